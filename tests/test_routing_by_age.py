"""``output: api+csv``: each event by its age, to the API or to Ads Manager's CSV.

Up to 7 days old an event goes to the API; older, up to the CSV's 28 days (Pinterest's 30
less 2 for the upload), it becomes a CSV row with every guarantee of ``output: csv``; older
still it is dead-lettered with the reason. The boundaries below are written out, not taken
from the constants under test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from target_pinterest_conversions.conversion.checks import validate_event
from target_pinterest_conversions.pinterest.limits import route
from tests import test_meltano
from tests.cli import (
    DEADLINE,
    Lines,
    blocked_reading,
    run_target,
    run_with_stdin_open,
    start_target,
    wait_until,
)
from tests.fake_pinterest import FakePinterest
from tests.shopify import EXAMPLE_MAPPING, orders_schema, singer_lines
from tests.singer import CHECKOUT, schema_line, state_line
from tests.test_csv_crashes import kill_at_random, order_number, resumed_input
from tests.test_csv_output import NOW, event, read_rows

DAY = 86_400
TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
TOO_OLD = (
    "event_time is more than 28 days old: output api+csv sends events up to 7 days old to "
    "the API and writes those up to 28 days old to Ads Manager's CSV (30 days, 2 left for "
    "the upload); Pinterest takes older ones nowhere"
)
LATE = "web or app events sent more than an hour after they happened"


# --- the rules ---------------------------------------------------------------------------


def test_the_route_is_the_api_up_to_7_days_and_the_csv_after():
    assert route(NOW - 7 * DAY, NOW) == "api"
    assert route(NOW - 7 * DAY - 1, NOW) == "csv"
    assert route(NOW + 60, NOW) == "api"  # the future: the API's checks refuse it


def test_each_event_passes_its_routes_checks_and_older_ones_none():
    ip_only = {"client_ip_address": "203.0.113.1", "client_user_agent": "Mozilla/5.0"}
    # Up to 7 days: the API's rules, which take an IP address and a user agent.
    assert validate_event(event(event_time=NOW - 7 * DAY, user_data=ip_only), NOW, "api+csv") == []
    assert validate_event(event(event_name="lead", event_time=NOW - DAY), NOW, "api+csv") == []
    # Older: the CSV's rules, each reason saying why the CSV's rules apply.
    assert validate_event(event(event_time=NOW - 7 * DAY - 1), NOW, "api+csv") == []
    assert validate_event(event(event_time=NOW - 28 * DAY), NOW, "api+csv") == []
    assert validate_event(event(event_time=NOW - 8 * DAY, user_data=ip_only), NOW, "api+csv") == [
        "user_data has no match key for Ads Manager's CSV, where output api+csv writes events "
        "more than 7 days old: needs em or hashed_maids"
    ]
    assert validate_event(event(event_name="lead", event_time=NOW - 8 * DAY), NOW, "api+csv") == [
        "event_name 'lead': output api+csv writes events more than 7 days old to Ads Manager's "
        "CSV, which takes checkout events only (the one event_type Pinterest's CSV "
        "specification spells out)"
    ]
    assert validate_event(event(event_time=NOW - 28 * DAY - 1), NOW, "api+csv") == [TOO_OLD]
    assert validate_event(event(event_time=NOW + 1), NOW, "api+csv") == [
        "event_time is in the future"
    ]
    assert validate_event(event(event_id=""), NOW, "api+csv") == ["event_id is missing"]
    assert validate_event(event(event_time=None), NOW, "api+csv") == ["event_time is missing"]


# --- through the command -----------------------------------------------------------------


def iso(age: dt.timedelta) -> str:
    return (dt.datetime.now(dt.timezone.utc) - age).isoformat()


def routed_config(tmp_path: Path, api_url: str, **changes: Any) -> dict[str, Any]:
    return {
        "output": "api+csv",
        "csv_path": str(tmp_path / "out"),
        "access_token": TOKEN,
        "ad_account_id": ACCOUNT,
        "api_url": api_url,
        "summary_path": str(tmp_path / "summary.json"),
        "streams": {"orders": CHECKOUT},
        **changes,
    }


def orders(ages: dict[int, dt.timedelta]) -> list[str]:
    lines = [schema_line()]
    for i, age in ages.items():
        record = {"id": i, "email": f"buyer{i}@example.com", "ts": iso(age)}
        lines.append(json.dumps({"type": "RECORD", "stream": "orders", "record": record}))
    return [*lines, state_line({"done": True})]


AGES = {
    1: dt.timedelta(minutes=5),
    2: dt.timedelta(days=2),
    3: dt.timedelta(days=10),
    4: dt.timedelta(days=20),
    5: dt.timedelta(days=40),
    6: dt.timedelta(days=6, hours=23),
}


def csv_event_times(folder: Path) -> list[int]:
    return sorted(int(row[2]) for row in read_rows(folder))


@pytest.mark.cli
def test_one_run_sends_the_recent_writes_the_older_and_dead_letters_the_oldest(tmp_path):
    with FakePinterest() as api:
        result = run_target(tmp_path, routed_config(tmp_path, api.url), orders(AGES))
        assert result.returncode == 0, result.stderr[-3000:]
        assert sorted(api.accepted_ids()) == ["1", "2", "6"]
        assert api.errors == []
        assert all(r.query == {} for r in api.requests)
    assert result.states == [{"done": True}]
    # The CSV: the two checkouts 10 and 20 days old, exactly once.
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 2
    now = time.time()
    assert sorted(round((now - int(row[2])) / DAY) for row in rows) == [10, 20]
    assert all(row[3] == "Checkout" and len(row[0]) == 64 for row in rows)
    # The oldest is dead-lettered with the reason.
    (dead,) = [
        json.loads(line) for line in (tmp_path / "dead-letter.jsonl").read_text().splitlines()
    ]
    assert dead["key"] == {"id": 5}
    assert dead["reason"] == TOO_OLD
    summary = json.loads((tmp_path / "summary.json").read_text())
    stream = summary["streams"]["orders"]
    assert stream["routes"] == {"api": 3, "csv": 2}
    assert (stream["events_sent"], stream["processed"], stream["events_written"]) == (3, 3, 2)
    assert stream["dead_lettered_locally"] == 1
    assert stream["reasons"] == {TOO_OLD: 1}
    # Web events more than an hour old reach Pinterest as offline ones: counted, warned once.
    (late,) = [text for text in stream["warnings"] if text.startswith(LATE)]
    assert stream["warnings"][late] == 2  # 2 days and 6 days 23 hours; not 5 minutes
    assert result.stderr.count(LATE) == 2  # once as it happens, once in the summary lines
    assert "routed 3 events to the API (up to 7 days old), 2 to the CSV files" in result.stderr
    closing = next(line for line in result.stderr.splitlines() if "Run succeeded" in line)
    assert "3 events sent, 3 processed, 2 events written" in closing
    assert "events over 7 days old: CSV: Ads Manager upload files to" in closing
    assert "CSV files ready for upload in Ads Manager" in result.stderr


@pytest.mark.cli
def test_a_dry_run_writes_the_apis_requests_to_its_file_and_the_older_to_the_csv(tmp_path):
    config = routed_config(tmp_path, "http://127.0.0.1:9", dry_run=True)
    del config["access_token"]
    result = run_target(tmp_path, config, orders(AGES))
    assert result.returncode == 0, result.stderr[-3000:]
    requests = [
        json.loads(line) for line in (tmp_path / "dry-run.jsonl").read_text().split("\n") if line
    ]
    assert sorted(e["event_id"] for r in requests for e in r["data"]) == ["1", "2", "6"]
    assert len(read_rows(tmp_path / "out")) == 2
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["streams"]["orders"]["routes"] == {"api": 3, "csv": 2}
    assert summary["streams"]["orders"]["events_written"] == 5
    assert "DRY RUN: request bodies to" in result.stderr


@pytest.mark.cli
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"access_token": None}, "access_token: required unless dry_run is true or output is csv"),
        ({"ad_account_id": None}, "ad_account_id: required unless every stream"),
        (
            {"streams": {"orders": {**CHECKOUT, "ad_account_id": "kind"}}},
            "streams.orders.ad_account_id: output api+csv writes one set of files",
        ),
    ],
)
def test_what_api_csv_needs_is_checked_before_any_input(tmp_path, changes, message):
    config = {
        k: v
        for k, v in {**routed_config(tmp_path, "http://127.0.0.1:9"), **changes}.items()
        if v is not None
    }
    result = run_with_stdin_open(tmp_path, config)
    assert result.returncode == 2, result.stderr[-3000:]
    assert message in result.stderr


# --- STATE and the CSV, when the API holds a STATE back -----------------------------------


@pytest.mark.cli
def test_a_state_held_by_the_api_commits_only_the_rows_of_the_records_before_it(tmp_path):
    """Rows written after a STATE, while it waited for Pinterest, are not committed with it.

    Record 1 goes to the API and is stuck (503), record 2 and 3 are CSV rows, STATE 2 is
    between them. Once record 1 is delivered STATE 2 goes out, and the target is killed:
    the resumed run (the tap sends record 3 again) leaves each row exactly once.
    """
    ages = {1: dt.timedelta(minutes=5), 2: dt.timedelta(days=10), 3: dt.timedelta(days=11)}
    first = orders(ages)[:2]  # SCHEMA, record 1
    record = {2: orders(ages)[2], 3: orders(ages)[3]}
    with FakePinterest() as api:
        api.stuck_ids.add("1")
        config = routed_config(tmp_path, api.url, batch_size_rows=1)
        proc = start_target(tmp_path, config, stderr=subprocess.DEVNULL)
        out = Lines(proc.stdout)  # type: ignore[arg-type]
        stdin = proc.stdin
        assert stdin is not None
        for line in [*first, state_line({"n": 1}), record[2], state_line({"n": 2}), record[3]]:
            stdin.write(line + "\n")
        wait_until(lambda: blocked_reading(proc, stdin), "the target to read it all", proc=proc)
        wait_until(lambda: api.arrived >= 1, "record 1 to reach Pinterest", proc=proc)
        assert out.text == ""  # record 1 is not delivered: no STATE
        api.stuck_ids.clear()
        out.wait_for('{"n":2}')  # after record 1's retry
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=DEADLINE)
        assert [json.loads(line) for line in out.join().splitlines()] == [{"n": 2}]
        manifest = json.loads(
            (tmp_path / "out" / ".pinterest-conversions.manifest.json").read_text()
        )
        assert [f["pending_rows"] for f in manifest["files"]] == [1]  # record 2's row only
        # The tap resumes after STATE 2: record 3 again.
        again = run_target(
            tmp_path, config, [schema_line(), state_line({"n": 2}), record[3], state_line({"n": 3})]
        )
        assert again.returncode == 0, again.stderr[-3000:]
        assert api.accepted_ids() == ["1"]
    assert [round((time.time() - t) / DAY) for t in csv_event_times(tmp_path / "out")] == [11, 10]


def mixed_lines(n: int, now: dt.datetime) -> list[str]:
    """tap-shopify orders of mixed ages: 2 in 5 are 8 to 27 days old, the rest recent."""
    schema = orders_schema()
    lines = singer_lines(n, schema, state_every=7, now=now)  # type: ignore[arg-type]
    out = []
    for line in lines:
        number = order_number(line)
        if number is not None and number % 5 in (1, 3):
            message = json.loads(line)
            created = now - dt.timedelta(days=8 + number % 20, minutes=number % 60)
            message["record"]["createdAt"] = created.isoformat().replace("+00:00", "Z")
            line = json.dumps(message)
        out.append(line)
    return out


@pytest.mark.slow
@pytest.mark.skipif(orders_schema() is None, reason="tap-shopify orders schema unavailable")
def test_random_kills_many_times_over_leave_every_row_once_and_every_event_sent(tmp_path):
    seed = int(os.environ.get("ROUTED_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = mixed_lines(1200, now)
    with FakePinterest() as api:
        clean = tmp_path / "clean"
        clean.mkdir()
        config = routed_config(clean, api.url, streams={"orders": EXAMPLE_MAPPING})
        result = run_target(clean, config, lines)
        assert result.returncode == 0, result.stderr[-3000:]
        expected_rows = Counter(map(tuple, read_rows(clean / "out")))
        expected_ids = set(api.accepted_ids())
        assert len(expected_rows) > 300
        assert len(expected_ids) > 500
    # A slow Pinterest: API batches stay open while later CSV rows are written, so the
    # kills land with STATE held back behind requests, as well as anywhere else.
    with FakePinterest(delay=0.02) as api:
        run = tmp_path / "run"
        run.mkdir()
        config = routed_config(run, api.url, streams={"orders": EXAMPLE_MAPPING}, batch_size_rows=5)
        last, kills = kill_at_random(run, config, lines, rng, times=14, stretch=200)
        rest = resumed_input(lines, last, first_state=rng.random() < 0.5)
        result = run_target(run, config, rest)
        assert result.returncode == 0, f"seed {seed}: {result.stderr[-3000:]}"
        assert kills >= 8
        assert Counter(map(tuple, read_rows(run / "out"))) == expected_rows, (
            f"seed {seed}: every row exactly once"
        )
        # The API: every recent event delivered at least once (Pinterest deduplicates by
        # event_id what a resumed run sends again).
        assert set(api.accepted_ids()) == expected_ids, f"seed {seed}"


# --- under Meltano -------------------------------------------------------------------------


@pytest.mark.slow
@test_meltano.needs_meltano
def test_meltano_run_with_output_api_csv_routes_by_age_and_stores_the_state(
    tmp_path, meltano_plugins
):
    folder = test_meltano.sample_project(tmp_path, meltano_plugins)
    # Every other sample order 12 days older: a backfill's mix of recent and older orders.
    jsonl = folder / "output" / "orders.jsonl"
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    older = set()
    for i, record in enumerate(records):
        if i % 2:
            created = dt.datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00"))
            record["createdAt"] = (created - dt.timedelta(days=12)).isoformat()
            older.add(record["id"])
    jsonl.write_text("".join(json.dumps(record) + "\n" for record in records))
    with FakePinterest(token=test_meltano.TOKEN) as api:
        env = {
            **test_meltano.loader_env(api),
            "TARGET_PINTEREST_CONVERSIONS_OUTPUT": "api+csv",
            "TARGET_PINTEREST_CONVERSIONS_CSV_PATH": "output/csv",
            "TARGET_PINTEREST_CONVERSIONS_SUMMARY_PATH": "output/summary.json",
        }
        run = test_meltano.meltano_result(folder, "run", "sample-orders", env=env)
        assert run.returncode == 0, run.stderr[-4000:]
        assert api.errors == []
        sent = set(api.accepted_ids())
    summary = json.loads((folder / "output" / "summary.json").read_text())
    routes = summary["streams"]["orders"]["routes"]
    assert routes["api"] == len(sent) > 0
    assert sent.isdisjoint(older)  # nothing 12 days old reached the API
    rows = read_rows(folder / "output" / "csv")
    assert len(rows) == routes["csv"] > 0
    assert all(time.time() - int(row[2]) > 11 * DAY for row in rows)
    dead = (folder / "output" / "dead-letter.jsonl").read_text().splitlines()
    assert len(sent) + len(rows) + len(dead) == len(records)
    # Meltano stored the STATE the CSV rows were committed under.
    state = json.loads(
        test_meltano.meltano(
            folder, "state", "get", "dev:tap-jsonl-to-target-pinterest-conversions"
        )
    )
    manifest = json.loads(
        (folder / "output" / "csv" / ".pinterest-conversions.manifest.json").read_text()
    )
    assert json.loads(manifest["confirmed_state"]) == state["singer_state"]
    assert f"routed {len(sent)} events to the API (up to 7 days old), {len(rows)} to" in run.stderr
