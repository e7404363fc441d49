"""``output: csv``: Ads Manager's offline-conversions CSV instead of API requests."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from target_pinterest_conversions.conversion.checks import (
    CSV_MAX_EVENT_AGE_SECONDS,
    CSV_NO_MATCH_KEY,
    MAX_EVENT_AGE_SECONDS,
    validate_event,
)
from target_pinterest_conversions.delivery.csvfile import COLUMNS, CsvWriter, csv_location, csv_row
from tests.cli import (
    kill_after_states,
    run_target,
    run_with_stdin_open,
)
from tests.shopify import EXAMPLE_MAPPING, make_order, orders_schema, singer_lines

NOW = 1_800_000_000
HASH = "a" * 64
SCHEMA = orders_schema()
needs_schema = pytest.mark.skipif(SCHEMA is None, reason="tap-shopify orders schema unavailable")
TOO_OLD_API = "event_time is more than 7 days old: the API takes 7 days; output: csv takes 30"


def event(**changes: object) -> dict:
    base = {
        "event_name": "checkout",
        "action_source": "offline",
        "event_time": NOW - 60,
        "event_id": "order-1",
        "user_data": {"em": [HASH]},
    }
    return {**base, **changes}


# --- the rules: one check, its window and match keys from the output ------------------


def test_the_csv_output_takes_30_days_and_the_api_7():
    ten_days = event(event_time=NOW - 10 * 86400)
    assert validate_event(ten_days, NOW, "csv") == []
    assert validate_event(ten_days, NOW) == [TOO_OLD_API]
    assert validate_event(event(event_time=NOW - CSV_MAX_EVENT_AGE_SECONDS), NOW, "csv") == []
    assert validate_event(event(event_time=NOW - CSV_MAX_EVENT_AGE_SECONDS - 1), NOW, "csv") == [
        "event_time is more than 30 days old: Ads Manager's CSV upload takes 30 days"
    ]
    assert validate_event(event(event_time=NOW - MAX_EVENT_AGE_SECONDS), NOW) == []


def test_the_csv_needs_an_email_or_a_mobile_ad_id():
    ip_only = event(user_data={"client_ip_address": "203.0.113.1", "client_user_agent": "x"})
    assert validate_event(ip_only, NOW) == []
    assert validate_event(ip_only, NOW, "csv") == [CSV_NO_MATCH_KEY]
    assert validate_event(event(user_data={"hashed_maids": [HASH]}), NOW, "csv") == []


def test_the_csv_writes_checkout_events_only():
    assert validate_event(event(event_name="lead"), NOW) == []
    (reason,) = validate_event(event(event_name="lead"), NOW, "csv")
    assert reason.startswith("event_name 'lead': output: csv writes checkout events only")


# --- the file: rows, names, rollover, commit and recovery ------------------------------


def test_a_row_holds_the_hashes_the_time_and_the_event_type():
    both = event(user_data={"em": [HASH, "b" * 64], "hashed_maids": ["c" * 64]})
    assert csv_row(both) == f"{HASH},{'c' * 64},{NOW - 60},Checkout\n".encode()
    assert csv_row(event()) == f"{HASH},,{NOW - 60},Checkout\n".encode()


def test_csv_path_is_a_folder_or_a_file_name_that_starts_the_names(tmp_path):
    assert csv_location(tmp_path / "out") == (tmp_path / "out", "pinterest-conversions")
    assert csv_location(tmp_path / "orders.csv") == (tmp_path, "orders")


def read_rows(folder: Path) -> list[list[str]]:
    rows = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as file:
            lines = list(csv.reader(file))
        assert tuple(lines[0]) == COLUMNS
        rows += lines[1:]
    return rows


def test_files_roll_over_at_the_row_limit_and_never_overwrite(tmp_path):
    writer = CsvWriter(tmp_path, max_rows=3, clock=lambda: NOW)
    for i in range(7):
        writer.write(event(event_time=NOW - i))
    writer.commit()
    writer.close()
    assert [p.name for p in writer.files] == [
        "pinterest-conversions-20270115T080000Z-0001.csv",
        "pinterest-conversions-20270115T080000Z-0002.csv",
        "pinterest-conversions-20270115T080000Z-0003.csv",
    ]
    assert [r[2] for r in read_rows(tmp_path)] == [str(NOW - i) for i in range(7)]
    again = CsvWriter(tmp_path, max_rows=3, clock=lambda: NOW)  # the same second
    again.write(event())
    again.close()
    assert again.files[0].name.endswith("-0004.csv")
    assert len(read_rows(tmp_path)) == 8
    CsvWriter(tmp_path)  # that row was never committed: the next start removes it
    assert len(read_rows(tmp_path)) == 7
    assert not again.files[0].exists()


def test_files_roll_over_before_the_byte_limit(tmp_path):
    row = len(csv_row(event()))
    writer = CsvWriter(tmp_path, max_bytes=len(b",".join(c.encode() for c in COLUMNS)) + 1 + row)
    writer.write(event())
    writer.write(event())
    writer.commit()
    assert len(writer.files) == 2
    assert all(path.stat().st_size <= writer.max_bytes for path in writer.files)


def test_a_restart_cuts_rows_written_after_the_last_commit(tmp_path):
    writer = CsvWriter(tmp_path, max_rows=2)
    for i in range(3):
        writer.write(event(event_time=NOW - i))
    writer.commit()
    for i in range(3, 6):  # a new file, then a crash before the next STATE
        writer.write(event(event_time=NOW - i))
    writer._file.flush()  # type: ignore[union-attr]
    assert len(read_rows(tmp_path)) == 6
    recovered = CsvWriter(tmp_path)
    assert [r[2] for r in read_rows(tmp_path)] == [str(NOW - i) for i in range(3)]
    assert any("cut" in note for note in recovered.recovered)
    assert any("removed" in note for note in recovered.recovered)
    assert writer.uncommitted_rows == 3


# --- through the command ---------------------------------------------------------------


def csv_config(tmp_path: Path, **extra: object) -> dict:
    return {
        "output": "csv",
        "csv_path": str(tmp_path / "out"),
        "streams": {"orders": EXAMPLE_MAPPING},
        **extra,
    }


def record_line(order: dict) -> str:
    return json.dumps({"type": "RECORD", "stream": "orders", "record": order}, default=float)


def orders_input(now: dt.datetime, total: int = 10_000) -> list[str]:
    """``total`` recent orders (a STATE every 100), every 500th 10 days old, 5 without email."""
    lines = singer_lines(total, SCHEMA, state_every=100, now=now)
    for n, line in enumerate(lines):
        message = json.loads(line)
        if message["type"] != "RECORD":
            continue
        i = message["record"]["id"].rsplit("/", 1)[1]
        i = int(i) - 1_000_000
        if i % 500 == 0:
            created = now - dt.timedelta(days=10, minutes=i % 60)
            lines[n] = record_line(make_order(i, created))
        elif i % 2000 == 7:
            order = make_order(i, now - dt.timedelta(minutes=5))
            order.update(email=None)
            lines[n] = record_line(order)
    return lines


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.cli
@needs_schema
def test_10000_shopify_orders_become_rows_hashed_as_the_api_hashes_them(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = orders_input(now)
    (tmp_path / "csv").mkdir()
    (tmp_path / "api").mkdir()
    result = run_target(tmp_path / "csv", csv_config(tmp_path / "csv"), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states[-1] == {"bookmarks": {"orders": {"n": 10_000}}}
    rows = read_rows(tmp_path / "csv" / "out")
    # The API path on the same input (a dry run writes its exact request bodies).
    api = run_target(
        tmp_path / "api",
        {"ad_account_id": "549755885175", "dry_run": True, "streams": {"orders": EXAMPLE_MAPPING}},
        lines,
    )
    assert api.returncode == 0, api.stderr[-3000:]
    sent = [e for line in read_jsonl(tmp_path / "api" / "dry-run.jsonl") for e in line["data"]]
    dead_api = read_jsonl(tmp_path / "api" / "dead-letter.jsonl")
    too_old = [d for d in dead_api if d["reason"] == TOO_OLD_API]
    assert len(too_old) == 20  # every 500th order is 10 days old: the API refuses it...
    assert all(d["event"]["user_data"]["em"] for d in too_old)
    # ...and points to the CSV output, which takes it: every order with an email is a
    # row, with the API's em digest and event_time.
    expected = Counter(
        (e["user_data"]["em"][0], str(e["event_time"]))
        for e in [*sent, *(d["event"] for d in too_old)]
        if e["user_data"].get("em")
    )
    assert len(rows) == 10_000 - 5
    assert Counter((r[0], r[2]) for r in rows) == expected
    assert {r[3] for r in rows} == {"Checkout"} and {r[1] for r in rows} == {""}
    dead_csv = read_jsonl(tmp_path / "csv" / "dead-letter.jsonl")
    assert len(dead_csv) == 5
    assert all(d["reason"].startswith("user_data has no match key") for d in dead_csv)
    assert all(d["ad_account_id"] is None for d in dead_csv)
    assert "9995 events written to the CSV files (not sent)" in result.stderr
    # Raw emails are written nowhere: only their hashes.
    text = "".join(p.read_text() for p in (tmp_path / "csv" / "out").iterdir())
    assert "@" not in text and "@" not in result.stderr.split("Skipping parse")[-1]


@pytest.mark.cli
@needs_schema
def test_kill_9_then_resume_from_the_last_state_leaves_every_row_once(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    total = 10_000
    lines = singer_lines(total, SCHEMA, state_every=100, now=now)
    # What a run that is never killed writes.
    (tmp_path / "clean").mkdir()
    clean = run_target(tmp_path / "clean", csv_config(tmp_path / "clean"), lines)
    assert clean.returncode == 0, clean.stderr[-3000:]
    expected = sorted(read_rows(tmp_path / "clean" / "out"))
    assert len(expected) == total

    states = kill_after_states(
        tmp_path, csv_config(tmp_path), lines, 20, pause_every=50, pause=0.002
    )
    resume_at = states[-1]["bookmarks"]["orders"]["n"]
    assert 0 < resume_at < total
    written = len(read_rows(tmp_path / "out"))
    assert written >= resume_at  # rows past the STATE, not yet cut

    # The tap resumes after the last STATE the target wrote.
    rest = [lines[0]] + [
        line
        for line in lines[1:]
        if json.loads(line)["type"] != "RECORD"
        or int(json.loads(line)["record"]["id"].rsplit("/", 1)[1]) - 1_000_000 >= resume_at
    ]
    rest = [
        line
        for line in rest
        if json.loads(line)["type"] != "STATE"
        or json.loads(line)["value"]["bookmarks"]["orders"]["n"] > resume_at
    ]
    result = run_target(tmp_path, csv_config(tmp_path), rest)
    assert result.returncode == 0, result.stderr[-3000:]
    if written > resume_at:  # the kill may also land just as a STATE was committed
        assert "csv_path: cut" in result.stderr or "csv_path: removed" in result.stderr
    rows = read_rows(tmp_path / "out")
    assert sorted(rows) == expected  # every row exactly once
    assert len(list((tmp_path / "out").glob("*.csv"))) >= 2


@pytest.mark.cli
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"dry_run": True}, "Config error: dry_run: output csv sends nothing already"),
        ({"output": "CSV"}, "output: must be one of api, csv"),
        ({"csv_path": "/proc/version/x"}, "csv_path: /proc/version/x"),
    ],
)
def test_csv_config_errors_exit_2_naming_the_setting_before_reading_input(tmp_path, extra, message):
    result = run_with_stdin_open(tmp_path, csv_config(tmp_path, **extra))
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr


@pytest.mark.cli
def test_csv_output_needs_no_token_or_ad_account(tmp_path):
    result = run_with_stdin_open(tmp_path, csv_config(tmp_path), "--check")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "output is csv, so Pinterest was not contacted" in result.stderr
