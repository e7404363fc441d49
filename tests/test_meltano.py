"""The target as a Meltano loader: `meltano install` and `meltano run` of this repo's project.

These tests need the `meltano` command (``.ci/run`` installs it in its own virtualenv and
sets ``MELTANO_BIN``; elsewhere they are skipped unless ``REQUIRE_MELTANO`` is set). The
incremental tests also need PostgreSQL, which ``.ci/run`` starts on 127.0.0.1 (on a free
port) and describes in the ``PGHOST``/``PGPORT``/``PGUSER``/``PGDATABASE`` variables; each
test makes a database of its own there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import MeltanoPlugins
from tests.fake_pinterest import FakePinterest

ROOT = Path(__file__).resolve().parents[1]
MELTANO = os.environ.get("MELTANO_BIN") or shutil.which("meltano")
TOKEN = "meltano-test-token"

needs_meltano = pytest.mark.skipif(
    MELTANO is None and not os.environ.get("REQUIRE_MELTANO"),
    reason="meltano is not installed (bash .ci/run installs it)",
)
"""For Meltano tests in other files (their behaviour's own), as here."""
pytestmark = needs_meltano


def project(tmp_path: Path, plugins: MeltanoPlugins, extractors: list[dict] | None = None) -> Path:
    """This repo's meltano.yml in ``tmp_path/project``, its loader installed from the
    worker's copy of this checkout (``tests/checkout.py``), its plugin virtualenvs the
    worker's (``plugins``)."""
    spec = yaml.safe_load((plugins.checkout / "meltano.yml").read_text())
    loader = spec["plugins"]["loaders"][0]
    loader["pip_url"] = f"-e {plugins.checkout}"
    if extractors is not None:
        spec["plugins"]["extractors"] = extractors
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "meltano.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (folder / "output").mkdir()
    plugins.link(folder)
    return folder


def install(folder: Path, plugins: MeltanoPlugins, *names: str) -> None:
    """`meltano install` of the named plugins of ``folder``'s project, unless this worker
    installed them (same name, same ``pip_url``) for an earlier test already."""
    spec = yaml.safe_load((folder / "meltano.yml").read_text())
    pip_urls = {p["name"]: p.get("pip_url", "") for kind in spec["plugins"].values() for p in kind}
    wanted = {(name, pip_urls[name]) for name in names}
    if wanted <= plugins.installed:
        return
    meltano(folder, "install", *sorted(name for name, _ in wanted - plugins.installed))
    plugins.installed |= wanted


# Bytecode: `meltano install` makes uv compile every module of a plugin's virtualenv when
# UV_COMPILE_BYTECODE is set (.ci/run sets it, because it also sets nothing that would let
# Python write bytecode later where PYTHONDONTWRITEBYTECODE is set). Meltano's processes
# here may write it: only the modules a plugin imports are compiled, once, by their first
# run (measured: `meltano install` of tap-jsonl and the loader 5.8 CPU-s instead of 16.4,
# and 1.6 CPU-s more for the first run that imports them).
NO_BYTECODE_SETTINGS = ("PYTHONDONTWRITEBYTECODE", "UV_COMPILE_BYTECODE")


def meltano_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with ``env``, for a Meltano command."""
    base = {k: v for k, v in os.environ.items() if k not in NO_BYTECODE_SETTINGS}
    return {**base, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", **(env or {})}


def meltano_result(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    assert MELTANO, "REQUIRE_MELTANO is set but meltano is not installed"
    return subprocess.run(
        [MELTANO, *args],
        cwd=cwd,
        env=meltano_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def meltano(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    result = meltano_result(cwd, *args, env=env, timeout=timeout)
    assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{result.stderr[-4000:]}"
    return result.stdout


def loader_env(api: FakePinterest) -> dict[str, str]:
    return {
        "TARGET_PINTEREST_CONVERSIONS_DRY_RUN": "false",
        "TARGET_PINTEREST_CONVERSIONS_ACCESS_TOKEN": TOKEN,
        "TARGET_PINTEREST_CONVERSIONS_API_URL": api.url,
    }


def sample_project(tmp_path: Path, plugins: MeltanoPlugins) -> Path:
    """The project with the sample orders, recent, as tap-jsonl's file; installed."""
    folder = project(tmp_path, plugins)
    orders = subprocess.run(
        [
            "python3",
            str(ROOT / "sample" / "recent.py"),
            str(ROOT / "sample" / "orders.singer"),
            "--jsonl",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (folder / "output" / "orders.jsonl").write_text(orders)
    install(folder, plugins, "tap-jsonl", "target-pinterest-conversions")
    return folder


def test_meltano_run_of_the_sample_job_delivers_the_orders(tmp_path, meltano_plugins):
    folder = sample_project(tmp_path, meltano_plugins)
    with FakePinterest(token=TOKEN) as api:
        run = meltano_result(folder, "run", "sample-orders", env=loader_env(api))
        host = api.url.removeprefix("http://")
    assert run.returncode == 0, run.stderr[-4000:]
    # Under Meltano's structured logging the target's first line says the mode and its
    # last one the outcome.
    target_lines = [
        line
        for line in run.stderr.splitlines()
        if "] target-pinterest-conversions " in line and "METRIC" not in line
    ]
    assert f"LIVE: {host}, ad account 549755885175" in target_lines[0]
    assert "Run succeeded in " in target_lines[-1]
    ids = sorted(api.accepted_ids())
    assert len(ids) == 19  # 20 sample orders, one without any match key
    assert api.errors == []
    dead = (folder / "output" / "dead-letter.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"]["id"] for line in dead] == ["gid://shopify/Order/5008"]
    # Meltano stored the tap's last STATE, which the target emitted after delivery.
    state = json.loads(
        meltano(folder, "state", "get", "dev:tap-jsonl-to-target-pinterest-conversions")
    )
    bookmark = state["singer_state"]["bookmarks"]["orders"]
    assert bookmark["replication_key"] == "_sdc_last_modified"


def test_meltano_run_with_output_csv_writes_the_rows_and_stores_the_state(
    tmp_path, meltano_plugins
):
    folder = sample_project(tmp_path, meltano_plugins)
    env = {
        "TARGET_PINTEREST_CONVERSIONS_DRY_RUN": "false",
        "TARGET_PINTEREST_CONVERSIONS_OUTPUT": "csv",
        "TARGET_PINTEREST_CONVERSIONS_CSV_PATH": "output/csv",
    }
    run = meltano_result(folder, "run", "sample-orders", env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    files = sorted((folder / "output" / "csv").glob("*.csv"))
    assert len(files) == 1
    rows = files[0].read_text().splitlines()
    assert rows[0] == "email,madid,event_time,event_type"
    assert len(rows) == 1 + 19  # 20 sample orders, one without any match key
    # Meltano's structured log names the file for upload and its deadline; Meltano stored
    # the STATE the CSV rows were committed under.
    assert "CSV files ready for upload in Ads Manager before " in run.stderr
    assert files[0].name in run.stderr
    state = json.loads(
        meltano(folder, "state", "get", "dev:tap-jsonl-to-target-pinterest-conversions")
    )
    manifest = json.loads(
        (folder / "output" / "csv" / ".pinterest-conversions.manifest.json").read_text()
    )
    assert json.loads(manifest["confirmed_state"]) == state["singer_state"]


def _pg_env() -> dict[str, str] | None:
    names = ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE")
    if not all(os.environ.get(n) for n in names):
        return None
    return {n: os.environ[n] for n in names}


def _psql(sql: str, pg: dict[str, str], *, check: bool = True) -> None:
    subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        env={**os.environ, **pg},
        check=check,
        capture_output=True,
    )


needs_postgres = pytest.mark.skipif(
    _pg_env() is None and not os.environ.get("REQUIRE_POSTGRES"), reason="no PostgreSQL"
)


@pytest.fixture
def pg() -> Iterator[dict[str, str]]:
    """The server's variables, naming a database of this test's own, dropped afterwards.

    Parallel workers (pytest-xdist) and two checkouts' runs against one server (the GitHub
    workflow's service container) never see each other's tables.
    """
    server = _pg_env()
    assert server, "REQUIRE_POSTGRES is set but PGHOST/PGPORT/PGUSER/PGDATABASE are not"
    name = f"tpc_test_{uuid.uuid4().hex[:16]}"
    _psql(f"create database {name}", server)
    try:
        yield {**server, "PGDATABASE": name}
    finally:
        _psql(f"drop database if exists {name} with (force)", server, check=False)


def _orders_table(
    now: dt.datetime, pg: dict[str, str], *, newest: int = 120, step: int = 60
) -> tuple[str, Callable[[int, int], None]]:
    """A new orders table, and a function that inserts rows ``start`` to ``stop - 1``.

    Row ``i`` was updated ``(newest - i) * step`` seconds before ``now``.
    """
    table = f"orders_{uuid.uuid4().hex[:8]}"
    _psql(
        f"create table {table} (id integer primary key, email text, phone text, "
        "total numeric(10,2), currency text, updated_at timestamptz not null)",
        pg,
    )

    def insert(start: int, stop: int) -> None:
        _psql(
            f"insert into {table} select i, 'buyer' || i || '@example.com', "  # noqa: S608
            "'+1 415 555 ' || lpad(i::text, 4, '0'), i + 0.50, 'USD', "
            f"timestamptz '{now.isoformat()}' - make_interval(secs => ({newest} - i) * {step}) "
            f"from generate_series({start}, {stop - 1}) as i",
            pg,
        )

    return table, insert


def _postgres_project(
    tmp_path: Path,
    plugins: MeltanoPlugins,
    pg: dict[str, str],
    stream: str,
    tap_config: dict | None = None,
) -> Path:
    """A Meltano project: tap-postgres reading ``stream`` incrementally, into the target."""
    extractor = {
        "name": "tap-postgres",
        "namespace": "tap_postgres",
        "executable": "tap-postgres",
        "pip_url": "meltanolabs-tap-postgres==0.10.0",
        "capabilities": ["about", "catalog", "discover", "state", "stream-maps"],
        "config": {
            "host": pg["PGHOST"],
            "port": int(pg["PGPORT"]),
            "user": pg["PGUSER"],
            # The CI server trusts local connections; the tap insists on a password.
            "password": os.environ.get("PGPASSWORD", "trust"),
            "database": pg["PGDATABASE"],
            "filter_schemas": ["public"],
            **(tap_config or {}),
        },
        "select": [f"{stream}.*"],
        "metadata": {
            stream: {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}
        },
    }
    folder = project(tmp_path, plugins, [extractor])
    spec = yaml.safe_load((folder / "meltano.yml").read_text())
    spec["plugins"]["loaders"][0]["config"]["streams"] = {
        stream: {
            "event_name": "checkout",
            "action_source": "offline",
            "event_time": "updated_at",
            "event_id": "id",
            "user_data": {"em": "email", "ph": "phone"},
            "custom_data": {"value": "total", "currency": "currency", "order_id": "id"},
        },
    }
    spec.pop("jobs", None)
    (folder / "meltano.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    install(folder, plugins, "tap-postgres", "target-pinterest-conversions")
    return folder


def _check_bookmark(folder: Path, stream: str, newest: dt.datetime) -> None:
    state = json.loads(
        meltano(folder, "state", "get", "dev:tap-postgres-to-target-pinterest-conversions")
    )
    bookmark = state["singer_state"]["bookmarks"][stream]
    assert bookmark["replication_key"] == "updated_at"
    assert bookmark["replication_key_value"].startswith(newest.strftime("%Y-%m-%dT%H"))


@needs_postgres
def test_incremental_runs_from_postgres_send_only_new_rows(tmp_path, meltano_plugins, pg):
    now = dt.datetime.now(dt.timezone.utc)
    table, insert = _orders_table(now, pg)
    insert(1, 31)
    stream = f"public-{table}"
    folder = _postgres_project(tmp_path, meltano_plugins, pg, stream)
    with FakePinterest(token=TOKEN) as api:
        meltano(folder, "run", "tap-postgres", "target-pinterest-conversions", env=loader_env(api))
        first = sorted(int(i) for i in api.accepted_ids())
        insert(31, 41)
        meltano(folder, "run", "tap-postgres", "target-pinterest-conversions", env=loader_env(api))
        everything = [int(i) for i in api.accepted_ids()]
    assert first == list(range(1, 31))
    second = everything[len(first) :]
    # The replication key is inclusive: the last row of the first run may come again,
    # with the same event id, which Pinterest deduplicates.
    assert set(second) - {30} == set(range(31, 41))
    assert len(second) <= 11
    _check_bookmark(folder, stream, now - dt.timedelta(minutes=80))


@needs_postgres
def test_batch_messages_from_postgres_deliver_every_row_then_only_new_ones(
    tmp_path, meltano_plugins, pg
):
    """tap-postgres in batch mode: gzipped JSONL files, announced in BATCH messages."""
    now = dt.datetime.now(dt.timezone.utc)
    table, insert = _orders_table(now, pg, newest=3000, step=1)
    insert(1, 2501)
    stream = f"public-{table}"
    batches = tmp_path / "batches"
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": batches.as_uri(), "prefix": "orders-"},
        "batch_size": 1000,
    }
    folder = _postgres_project(
        tmp_path, meltano_plugins, pg, stream, {"batch_config": batch_config}
    )
    with FakePinterest(token=TOKEN) as api:
        run = meltano_result(
            folder, "run", "tap-postgres", "target-pinterest-conversions", env=loader_env(api)
        )
        assert run.returncode == 0, run.stderr[-4000:]
        first = sorted(int(i) for i in api.accepted_ids())
        files = sorted(batches.glob("orders-*.json.gz"))
        insert(2501, 2521)
        meltano(folder, "run", "tap-postgres", "target-pinterest-conversions", env=loader_env(api))
        everything = [int(i) for i in api.accepted_ids()]
    assert len(files) == 3  # 2500 rows in files of at most 1000: the rows came as BATCH
    assert first == list(range(1, 2501))
    assert api.errors == []
    second = everything[len(first) :]
    # The replication key is inclusive: the last row of the first run may come again.
    assert set(second) - {2500} == set(range(2501, 2521))
    assert len(second) <= 21
    assert len(list(batches.glob("orders-*.json.gz"))) == 4
    _check_bookmark(folder, stream, now - dt.timedelta(seconds=480))


def test_meltano_config_test_checks_the_token_for_real(tmp_path, meltano_plugins):
    """`meltano config test` (Meltano 4.4 sends `meltano_test_stream`) and `meltano invoke
    --check`. Meltano 4.4.1 crashes in its own clean-up after a loader test
    (ProcessLookupError, whatever the outcome, exit code 1), so the verdict is read from
    what it reports: "Test data was written" only on success, and the target's own lines
    (shown at debug level)."""
    folder = project(tmp_path, meltano_plugins)
    install(folder, meltano_plugins, "target-pinterest-conversions")
    passed = "Test data was written to your target system"
    with FakePinterest(token=TOKEN) as api:
        good = meltano_result(
            folder,
            "--log-level=debug",
            "config",
            "test",
            "target-pinterest-conversions",
            env=loader_env(api),
        )
        bad = meltano_result(
            folder,
            "--log-level=debug",
            "config",
            "test",
            "target-pinterest-conversions",
            env={**loader_env(api), "TARGET_PINTEREST_CONVERSIONS_ACCESS_TOKEN": "wrong"},
        )
        invoke_good = meltano_result(
            folder, "invoke", "target-pinterest-conversions", "--check", env=loader_env(api)
        )
        invoke_bad = meltano_result(
            folder,
            "invoke",
            "target-pinterest-conversions",
            "--check",
            env={**loader_env(api), "TARGET_PINTEREST_CONVERSIONS_ACCESS_TOKEN": "wrong"},
        )
    assert passed in good.stderr, good.stderr[-4000:]
    assert "Connection check passed" in good.stderr
    assert passed not in bad.stderr, bad.stderr[-4000:]
    assert "the access token was rejected (401): check access_token" in bad.stderr
    assert invoke_good.returncode == 0, invoke_good.stderr[-4000:]
    assert "Connection check passed" in invoke_good.stderr
    assert invoke_bad.returncode == 3
    assert "Connection check failed: the access token was rejected (401)" in invoke_bad.stderr
    # Four checks, one synthetic test event each; the good ones met Pinterest's schema.
    assert len(api.requests) == 4
    assert all(r.query == {"test": ["true"]} for r in api.requests)
    assert api.errors == []
    assert TOKEN not in good.stderr + invoke_good.stderr
