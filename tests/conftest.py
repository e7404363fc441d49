"""Test selection by markers, and parallel runs.

``-m "not slow and not cli"`` runs the unit tests (pure modules) in seconds; ``-m "not
slow"`` adds the command-line tests that finish quickly; no marker selection runs all.

With pytest-xdist installed (the ``test`` extra) the tests run in parallel, one worker per
core (``-n auto``), unless the command line says otherwise: ``-n 0`` or ``-p no:xdist`` runs
them in one process, ``-n 4`` on four workers. Tests that build or install the checkout do it
from a private copy (``tests/checkout.py``), so they too run beside each other. Mutation runs
(mutmut sets ``MUTANT_UNDER_TEST``)
stay in one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.checkout import copy_checkout


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
        "test_signals_timeouts_and_bad_settings",  # signals, stuck batches, dripping servers
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
        "test_empty_values",
    },
)
"""Modules that run the command (or the SDK's target) end to end."""

HEAVY_PROPERTY_MODULES = frozenset({"test_fast_path_equivalence"})
"""Property tests over every preset and route: thorough, not quick."""


LONGEST_FIRST = ("test_readme_meltano", "test_meltano", "test_packaging", "test_hub_meltano")
"""Modules whose tests take 20-40 s each: they start first, so that a parallel run does not
end with one worker on a long test while the others wait."""


def _module_name(item: pytest.Item) -> str:
    module = getattr(item, "module", None)
    return "" if module is None else module.__name__.rsplit(".", 1)[-1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test ``slow`` or ``cli`` by its module; the longest ones go first."""
    for item in items:
        name = _module_name(item)
        if name in SLOW_MODULES or name in HEAVY_PROPERTY_MODULES:
            item.add_marker(pytest.mark.slow)
        elif name in CLI_MODULES:
            item.add_marker(pytest.mark.cli)
    # A stable sort: every xdist worker must collect the same order.
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_module_name(item), len(LONGEST_FIRST)))


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


@dataclass
class MeltanoPlugins:
    """Plugin virtualenvs that one worker's Meltano projects share: one install each.

    Meltano keeps a project's plugin virtualenvs in ``.meltano/extractors`` and
    ``.meltano/loaders``; each project of :meth:`link` has those two folders as links to
    this worker's, and its own ``.meltano`` otherwise (system database, STATE, run files).
    The loader's ``pip_url`` is ``-e`` of one copy of the checkout (``checkout``), so that
    its fingerprint matches in every project and Meltano installs no plugin twice.
    """

    checkout: Path
    folder: Path
    installed: set[tuple[str, str]] = field(default_factory=set)
    """(name, pip_url) of the plugins installed in ``folder``."""

    def link(self, project: Path) -> None:
        """Give ``project`` (a folder with its meltano.yml) this worker's plugin folders."""
        system = project / ".meltano"
        system.mkdir()
        for kind in ("extractors", "loaders"):
            (self.folder / kind).mkdir(exist_ok=True)
            (system / kind).symlink_to(self.folder / kind, target_is_directory=True)


@pytest.fixture(scope="session")
def meltano_plugins(tmp_path_factory: pytest.TempPathFactory) -> MeltanoPlugins:
    """This worker's shared Meltano plugins (the Meltano tests install them once)."""
    base = tmp_path_factory.mktemp("meltano-plugins")
    return MeltanoPlugins(copy_checkout(base / "checkout"), base)
