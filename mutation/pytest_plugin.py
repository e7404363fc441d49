"""pytest plugin for mutation runs (``-p mutation.pytest_plugin`` in ``[tool.mutmut]``).

Hypothesis draws the same examples on every run (``derandomize``) and keeps no example
database: a failing example found for one mutant must not be replayed against the next,
or a mutant's verdict would depend on the order the mutants ran in. No deadline either:
mutmut's trampolines slow every call, and a missed deadline is not a kill.

A mutant is killed by the first failing example, so a failure is not shrunk (nor
explained): shrinking re-runs the test many times and changes no verdict. Each property
test runs at most ``MUTATION_MAX_EXAMPLES`` examples (its own ``max_examples`` when that is
lower); the unmutated suite keeps its counts. The subset (mutation/ci-subset.sh) killed
the same 244 of its 251 mutants with every test's own count and with caps of 100, 50 and
25; without shrinking and with the cap at 50 it took 131 CPU-s instead of 211.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import Phase, settings

MAX_EXAMPLES = int(os.environ.get("MUTATION_MAX_EXAMPLES", "50"))

settings.register_profile(
    "mutation",
    database=None,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
settings.load_profile("mutation")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Cap the examples of each property test (``@given``) at ``MAX_EXAMPLES``."""
    for item in items:
        test = getattr(item, "obj", None)
        if getattr(test, "hypothesis", None) is None:
            continue  # not a property test
        # @given keeps the test's settings here, and reads them when the test runs.
        own = test._hypothesis_internal_use_settings  # type: ignore[union-attr]
        if own.max_examples > MAX_EXAMPLES:
            test._hypothesis_internal_use_settings = settings(own, max_examples=MAX_EXAMPLES)  # type: ignore[union-attr]
