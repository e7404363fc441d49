"""Code generation, private to conversion: the mapping's readers, the fast path, the type check.

Only :mod:`..conversion` imports it (a ``private_modules`` contract in ``pyproject.toml``).

``emit`` is the one emitter the others use. Generated code calls the rule functions of
:mod:`..conversion` or their inline forms declared beside them; it holds no rule of its own.
Pure: no I/O.
"""
