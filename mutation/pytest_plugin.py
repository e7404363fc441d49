"""pytest plugin for mutation runs (``-p mutation.pytest_plugin`` in ``[tool.mutmut]``).

Hypothesis draws the same examples on every run (``derandomize``) and keeps no example
database: a failing example found for one mutant must not be replayed against the next,
or a mutant's verdict would depend on the order the mutants ran in. No deadline either:
mutmut's trampolines slow every call, and a missed deadline is not a kill.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("mutation", database=None, derandomize=True, deadline=None)
settings.load_profile("mutation")
