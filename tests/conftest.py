"""Test selection by markers, and parallel runs.

``-m "not slow and not cli"`` runs the unit tests (pure modules) in seconds; ``-m "not
slow"`` adds the command-line tests that finish quickly; no marker selection runs all.

With pytest-xdist installed (the ``test`` extra) the tests run in parallel, one worker per
core (``-n auto``), unless the command line says otherwise: ``-n 0`` or ``-p no:xdist`` runs
them in one process, ``-n 4`` on four workers. Tests that must not run beside each other
take a lock (``CHECKOUT_BUILD_MODULES``). Mutation runs (mutmut sets ``MUTANT_UNDER_TEST``)
stay in one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Default to ``-n auto`` when xdist is there and no ``-n`` was given.

    Runs before xdist's own hook, which turns ``auto`` into the number of cores.
    """
    if not config.pluginmanager.has_plugin("xdist"):
        return  # -p no:xdist, or pytest-xdist not installed
    if "PYTEST_XDIST_WORKER" in os.environ or "MUTANT_UNDER_TEST" in os.environ:
        return  # a worker of a parallel run, or mutmut's in-process runs
    if getattr(config.option, "numprocesses", 0) is not None:
        return  # -n given on the command line (or in PYTEST_ADDOPTS)
    if config.getoption("usepdb", False):
        return  # --pdb needs one process
    config.option.numprocesses = "auto"


SLOW_MODULES = frozenset(
    {
        "test_meltano",  # meltano install and run, PostgreSQL
        "test_readme_meltano",  # a fresh clone and the README's Meltano commands
        "test_hub_meltano",  # meltano add --from-ref the Hub definition, then run
        "test_packaging",  # sdist, wheel, pipx and uv installs
        "test_benchmarks",  # the benchmark harness
        "test_hardening",  # signals, stuck batches, dripping servers
        "test_faults",  # retries with real waits, kill -9 and resume
        "test_poison_records",  # hostile records through every route
        "test_secrets",  # 50,000 failing events, echoing servers
    },
)


CLI_MODULES = frozenset(
    {
        "test_accounts_cli",
        "test_bad_input",
        "test_batch_messages",
        "test_capabilities",
        "test_check",
        "test_csv_crashes",
        "test_end_to_end",
        "test_golden",
        "test_mapping_e2e",
        "test_misconfiguration",
        "test_readme",
        "test_redaction",
        "test_sdk",
        "test_sdk_contract",
        "test_values",
    },
)
"""Modules that run the command (or the SDK's target) end to end."""

HEAVY_PROPERTY_MODULES = frozenset({"test_fastpath"})
"""Property tests over every preset and route: thorough, not quick."""

CHECKOUT_BUILD_MODULES = frozenset({"test_meltano", "test_hub_meltano", "test_packaging"})
"""Modules that build or install this checkout in place (``pip install -e`` by ``meltano
install``, ``python -m build``, ``pipx``/``uv tool install``): setuptools writes ``build/``
and the ``.egg-info`` folder inside the checkout, so these run one at a time, whichever
worker runs them (``_one_checkout_build_at_a_time``); everything else runs beside them.

A lock, not ``xdist_group``: pytest 9.2 ignores the node id xdist 3.8 rewrites to group."""

CHECKOUT_BUILD_LOCK = Path(__file__).resolve().parents[1] / ".cache" / "checkout-builds.lock"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test ``slow`` or ``cli`` by its module."""
    for item in items:
        if item.module is None:
            continue
        name = item.module.__name__.rsplit(".", 1)[-1]
        if name in SLOW_MODULES or name in HEAVY_PROPERTY_MODULES:
            item.add_marker(pytest.mark.slow)
        elif name in CLI_MODULES:
            item.add_marker(pytest.mark.cli)


@pytest.fixture(autouse=True)
def _one_checkout_build_at_a_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hold the checkout's build lock through each test of ``CHECKOUT_BUILD_MODULES``."""
    module = getattr(request.node, "module", None)
    if module is None or module.__name__.rsplit(".", 1)[-1] not in CHECKOUT_BUILD_MODULES:
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no flock, and no parallel run of these tests there
        yield
        return
    CHECKOUT_BUILD_LOCK.parent.mkdir(exist_ok=True)
    with CHECKOUT_BUILD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The HTTP client's waits between tries, recorded instead of waited."""
    from target_pinterest_conversions.delivery.client import PinterestClient

    recorded: list[float] = []

    def wait(self: PinterestClient, seconds: float) -> bool:
        recorded.append(seconds)
        return False

    monkeypatch.setattr(PinterestClient, "_wait", wait)
    return recorded
