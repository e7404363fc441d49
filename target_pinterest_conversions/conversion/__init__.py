"""Record to event: typing, normalizing and hashing, and the checks before sending.

``types`` (converters), ``event`` (the event object), ``text``, ``phone``, ``geo`` and
``hashing`` (personal data by topic), ``user_data``, ``checks`` (Pinterest's rules for an
event), ``values`` (what counts as empty), ``rules`` and ``reading`` (a mapping applied to
records), ``schema`` (the record check), ``pipeline`` (one record through all of them, step
by step) and ``plan`` (each stream's plan, and its unrolling). ``_codegen`` generates their
code and is theirs alone. Pure: no I/O.
"""
