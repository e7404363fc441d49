"""Record to event: typing, normalizing and hashing, and the checks before sending.

``types`` (converters), ``event`` (the event object), ``text``, ``phone``, ``geo`` and
``hashing`` (personal data by topic), ``user_data``, ``checks`` (Pinterest's rules for an
event), ``values`` (what counts as empty), ``pipeline`` (one record through all of them)
and ``converter`` (each stream's choice of route). Pure: no I/O.
"""
