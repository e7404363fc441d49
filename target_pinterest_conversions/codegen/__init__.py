"""Code generation: the mapping's readers, the fast path and the schema check as functions.

``emit`` is the one emitter the others use. Generated code calls the rule functions of
:mod:`..conversion` or their inline forms declared beside them; it holds no rule of its own.
Pure: no I/O.
"""
