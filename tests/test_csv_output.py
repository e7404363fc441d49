"""``output: csv``: Ads Manager's offline-conversions CSV instead of API requests."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from target_pinterest_conversions.conversion.checks import CSV_NO_MATCH_KEY, validate_event
from target_pinterest_conversions.delivery.csvfile import COLUMNS, CsvWriter, csv_location, csv_row
from target_pinterest_conversions.errors import ConfigError
from tests.cli import (
    kill_after_states,
    run_target,
    run_with_stdin_open,
    start_target,
)
from tests.shopify import EXAMPLE_MAPPING, make_order, orders_schema, singer_lines
from tests.singer import state_line

NOW = 1_800_000_000
HASH = "a" * 64
SCHEMA = orders_schema()
needs_schema = pytest.mark.skipif(SCHEMA is None, reason="tap-shopify orders schema unavailable")
TOO_OLD_API = "event_time is more than 7 days old: the API takes 7 days; output: csv takes 28"


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


def test_the_csv_output_takes_28_days_leaving_2_of_pinterests_30_for_the_upload():
    day = 86_400
    ten_days = event(event_time=NOW - 10 * day)
    assert validate_event(ten_days, NOW, "csv") == []
    assert validate_event(ten_days, NOW) == [TOO_OLD_API]
    assert validate_event(event(event_time=NOW - 28 * day), NOW, "csv") == []
    assert validate_event(event(event_time=NOW - 28 * day - 1), NOW, "csv") == [
        "event_time is more than 28 days old: Ads Manager's CSV upload takes 30 days, "
        "and 2 are left for the upload"
    ]
    assert validate_event(event(event_time=NOW - 7 * day), NOW) == []
    assert validate_event(event(event_time=NOW - 7 * day - 1), NOW) == [TOO_OLD_API]


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


def crash(writer: CsvWriter) -> None:
    """What kill -9 leaves: written bytes in the files, the folder's lock released."""
    if writer._file is not None:
        writer._file.flush()
    os.close(writer._lock_fd)  # type: ignore[arg-type]


def test_files_roll_over_at_the_row_limit_and_never_overwrite(tmp_path):
    writer = CsvWriter(tmp_path, max_rows=3, clock=lambda: NOW)
    for i in range(7):
        writer.write(event(event_time=NOW - i))
    writer.commit('{"n":7}')
    writer.emitted()
    assert writer.close(finished=True) == 0
    assert [p.name for p in writer.files] == [
        "pinterest-conversions-20270115T080000Z-0001.csv",
        "pinterest-conversions-20270115T080000Z-0002.csv",
        "pinterest-conversions-20270115T080000Z-0003.csv",
    ]
    assert [r[2] for r in read_rows(tmp_path)] == [str(NOW - i) for i in range(7)]
    again = CsvWriter(tmp_path, max_rows=3, clock=lambda: NOW)  # the same second
    again.commit('{"n":7}')
    again.emitted()
    again.write(event())
    assert again.files[0].name.endswith("-0004.csv")
    again._file.flush()  # type: ignore[union-attr]
    assert len(read_rows(tmp_path)) == 8
    # No STATE covers that row: the run cuts it itself, its file with it.
    assert again.close(finished=True) == 1
    assert again.files == []
    assert len(read_rows(tmp_path)) == 7
    CsvWriter(tmp_path).close(finished=True)  # the next start changes nothing
    assert len(read_rows(tmp_path)) == 7


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
    writer.commit('{"n":3}')
    writer.emitted()
    for i in range(3, 6):  # a new file, then a crash before the next STATE
        writer.write(event(event_time=NOW - i))
    crash(writer)
    assert len(read_rows(tmp_path)) == 6
    recovered = CsvWriter(tmp_path)
    assert [r[2] for r in read_rows(tmp_path)] == [str(NOW - i) for i in range(3)]
    assert any("cut" in note for note in recovered.recovered)
    assert any("removed" in note for note in recovered.recovered)
    assert recovered.unsettled_rows == 0


def test_a_commit_up_to_a_position_leaves_the_rows_after_it_to_a_later_state(tmp_path):
    # output api+csv: a STATE may go out after rows of later records were written (it
    # waited for Pinterest); it commits the rows of the records before it, no more.
    writer = CsvWriter(tmp_path, max_rows=2)
    for i in range(3):  # two files: rows 0 and 1, then row 2
        writer.write(event(event_time=NOW - i))
    at_state = writer.position()
    assert (at_state[0], at_state[2]) == (2, 1)  # the second file, its first row
    for i in range(3, 6):  # row 3 fills the second file, rows 4 and 5 start a third
        writer.write(event(event_time=NOW - i))
    writer.commit('{"n":3}', at_state)
    writer.emitted()
    crash(writer)
    recovered = CsvWriter(tmp_path)
    assert [r[2] for r in read_rows(tmp_path)] == [str(NOW - i) for i in range(3)]
    assert any("removed" in note for note in recovered.recovered)  # the third file
    assert any("cut" in note for note in recovered.recovered)  # row 3 of the second
    recovered.close(finished=True)
    # Without a crash, the run cuts them itself at its end, and says how many.
    again = CsvWriter(tmp_path / "again", max_rows=2)
    for i in range(3):
        again.write(event(event_time=NOW - i))
    at_state = again.position()
    again.write(event(event_time=NOW - 3))
    again.commit('{"n":3}', at_state)
    again.emitted()
    again.commit('{"n":3}', at_state)  # the same STATE again: nothing new
    again.emitted()
    assert again.close(finished=True) == 1
    assert [r[2] for r in read_rows(tmp_path / "again")] == [str(NOW - i) for i in range(3)]


def killed_between_manifest_and_state(tmp_path: Path) -> None:
    """Rows 0-2 under STATE n=3, rows 3-5 committed for n=6, killed before that line."""
    writer = CsvWriter(tmp_path)
    for i in range(3):
        writer.write(event(event_time=NOW - i))
    writer.commit('{"bookmarks":{"orders":{"n":3}}}')
    writer.emitted()
    for i in range(3, 6):
        writer.write(event(event_time=NOW - i))
    writer.commit('{"bookmarks":{"orders":{"n":6}}}')
    crash(writer)  # the STATE line never went out
    assert len(read_rows(tmp_path)) == 6


@pytest.mark.parametrize(
    ("resumed_from", "kept"),
    [
        # The JSON of the STATE the tap was given back, key order and spacing its own.
        ('{"bookmarks": {"orders": {"n": 3}}}', 3),
        ('{"bookmarks":{"orders":{"n":6}}}', 6),
    ],
)
def test_a_kill_after_the_manifest_before_the_state_is_settled_by_the_taps_first_state(
    tmp_path, resumed_from, kept
):
    killed_between_manifest_and_state(tmp_path)
    writer = CsvWriter(tmp_path)
    assert writer.unsettled_rows == 3
    writer.commit(resumed_from)  # the tap's first message: the STATE it resumes from
    writer.emitted()
    assert writer.unsettled_rows == 0
    assert len(read_rows(tmp_path)) == kept
    for i in range(kept, 8):  # the tap sends the records after that STATE
        writer.write(event(event_time=NOW - i))
    writer.commit('{"bookmarks":{"orders":{"n":8}}}')
    writer.emitted()
    writer.close(finished=True)
    assert sorted(r[2] for r in read_rows(tmp_path)) == sorted(str(NOW - i) for i in range(8))


@pytest.mark.parametrize("resumed_at", [3, 6])
def test_without_a_first_state_the_taps_first_row_settles_the_interval(tmp_path, resumed_at):
    killed_between_manifest_and_state(tmp_path)
    writer = CsvWriter(tmp_path)
    writer.commit('{"bookmarks":{}}')  # a STATE that says nothing of the interval
    assert writer.unsettled_rows == 3
    for i in range(resumed_at, 8):
        writer.write(event(event_time=NOW - i))
    assert writer.unsettled_rows == 0
    writer.commit('{"bookmarks":{"orders":{"n":8}}}')
    writer.emitted()
    writer.close(finished=True)
    assert sorted(r[2] for r in read_rows(tmp_path)) == sorted(str(NOW - i) for i in range(8))
    # Settled for good: the next start changes nothing.
    CsvWriter(tmp_path).close(finished=True)
    assert len(read_rows(tmp_path)) == 8


def test_an_interrupted_run_leaves_the_interval_for_the_next_one_to_settle(tmp_path):
    killed_between_manifest_and_state(tmp_path)
    writer = CsvWriter(tmp_path)
    writer.close(finished=False)  # e.g. SIGTERM before the tap sent anything
    assert len(read_rows(tmp_path)) == 6
    again = CsvWriter(tmp_path)
    assert again.unsettled_rows == 3
    again.commit('{"bookmarks":{"orders":{"n":3}}}')
    assert len(read_rows(tmp_path)) == 3


def test_an_input_without_any_state_is_kept_whole_at_its_end(tmp_path):
    writer = CsvWriter(tmp_path)
    for i in range(3):
        writer.write(event(event_time=NOW - i))
    assert writer.close(finished=True) == 0
    assert len(read_rows(tmp_path)) == 3
    CsvWriter(tmp_path).close(finished=True)
    assert len(read_rows(tmp_path)) == 3


def test_a_failed_run_cuts_what_no_state_covers_itself(tmp_path):
    writer = CsvWriter(tmp_path, max_rows=2)
    for i in range(3):
        writer.write(event(event_time=NOW - i))
    writer.commit('{"n":3}')
    writer.emitted()
    writer.write(event(event_time=NOW - 3))
    assert writer.close(finished=False) == 1
    assert [p.name[-8:] for p in writer.files] == ["0001.csv", "0002.csv"]
    assert len(read_rows(tmp_path)) == 3


def test_one_run_at_a_time_holds_the_folder(tmp_path):
    first = CsvWriter(tmp_path)
    with pytest.raises(ConfigError) as refused:
        CsvWriter(tmp_path / "orders.csv")  # the same folder, another name
    assert str(tmp_path) in str(refused.value)
    assert f"process {os.getpid()}" in str(refused.value)
    first.close(finished=True)
    CsvWriter(tmp_path).close(finished=True)


def test_no_file_is_written_through_a_symbolic_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    planted = tmp_path / "pinterest-conversions-20270115T080000Z-0001.csv"
    planted.symlink_to(victim)
    writer = CsvWriter(tmp_path, clock=lambda: NOW)
    writer.write(event())
    writer.commit('{"n":1}')
    writer.emitted()
    writer.close(finished=True)
    assert victim.read_text() == "keep me\n"
    assert writer.files[0].name.endswith("-0002.csv")
    # The manifest's temporary files have names of their own, and none is left behind.
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


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
    assert "@" not in text and "@" not in result.stderr


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


def started_past_the_first_state(
    tmp_path: Path, config: dict, lines: list[str]
) -> subprocess.Popen[str]:
    """The command fed ``lines`` with stdin left open, once it wrote its first STATE."""
    proc = start_target(tmp_path, config)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n".join(lines) + "\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == {"bookmarks": {"orders": {"n": 100}}}
    return proc


@pytest.mark.cli
@needs_schema
def test_a_second_run_on_the_same_csv_path_exits_2_and_the_first_loses_nothing(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = singer_lines(400, SCHEMA, state_every=100, now=now)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    config = csv_config(tmp_path)  # both runs on one csv_path
    first = started_past_the_first_state(tmp_path / "first", config, lines[:150])

    second = run_with_stdin_open(tmp_path / "second", config)
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"csv_path: {tmp_path / 'out'} is in use by another run" in second.stderr
    assert f"(process {first.pid})" in second.stderr

    out, err = first.communicate("\n".join(lines[150:]) + "\n", timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert out.splitlines()[-1] == '{"bookmarks":{"orders":{"n":400}}}'
    assert len(read_rows(tmp_path / "out")) == 400


@pytest.mark.cli
@needs_schema
def test_rows_no_state_covers_are_cut_by_their_own_run_and_never_by_the_next(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = singer_lines(150, SCHEMA, state_every=100, now=now)
    without_last_state = lines[:-1]  # 100 rows under a STATE, 50 under none
    result = run_target(tmp_path, csv_config(tmp_path), without_last_state)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "csv_path: 50 rows written after the last STATE were cut" in result.stderr
    announced = result.stderr.split("CSV files ready for upload")[1].splitlines()[0]
    files = sorted((tmp_path / "out").glob("*.csv"))
    assert [str(p) in announced for p in files] == [True] * len(files)
    assert len(read_rows(tmp_path / "out")) == 100
    before = {p.name: p.read_bytes() for p in files}

    # The tap resumes from the last STATE it was given back and sends the rest.
    rest = [lines[0], state_line({"bookmarks": {"orders": {"n": 100}}}), *lines[101:]]
    again = run_target(tmp_path, csv_config(tmp_path), rest)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p.name: p.read_bytes() for p in files} == before  # announced: never changed
    assert sorted(read_rows(tmp_path / "out")) == sorted(
        read_rows_of_clean_run(tmp_path / "clean", lines)
    )


def read_rows_of_clean_run(folder: Path, lines: list[str]) -> list[list[str]]:
    folder.mkdir()
    result = run_target(folder, csv_config(folder), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    return read_rows(folder / "out")


@pytest.mark.cli
@needs_schema
def test_an_input_with_no_state_at_all_is_written_whole(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = [line for line in singer_lines(120, SCHEMA, now=now) if '"STATE"' not in line]
    result = run_target(tmp_path, csv_config(tmp_path), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == []
    assert len(read_rows(tmp_path / "out")) == 120
    assert "120 events written" in result.stderr


@pytest.mark.cli
@pytest.mark.parametrize(
    ("streams", "message"),
    [
        (
            {
                "orders": {**EXAMPLE_MAPPING, "ad_account_id": "111"},
                "refunds": {**EXAMPLE_MAPPING, "ad_account_id": "222"},
            },
            "ad_account_id: output csv writes one set of files, uploaded to one ad account "
            "in Ads Manager, but the streams name 2 (111, 222)",
        ),
        (
            {"orders": {**EXAMPLE_MAPPING, "ad_account_id": "shop.account"}},
            "streams.orders.ad_account_id: output csv writes one set of files",
        ),
    ],
)
def test_csv_output_for_several_ad_accounts_exits_2_before_reading_input(
    tmp_path, streams, message
):
    result = run_with_stdin_open(tmp_path, csv_config(tmp_path, streams=streams))
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.cli
@needs_schema
def test_mapped_fields_the_csv_cannot_carry_are_named_once_at_start_up(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    result = run_target(tmp_path, csv_config(tmp_path), singer_lines(300, SCHEMA, now=now))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if "not written to the CSV" in line]
    assert len(lines) == 1
    assert (
        "stream 'orders': mapped fields not written to the CSV: value, currency, order_id "
        "(Pinterest's help page does not show these columns' spelling" in lines[0]
    )
    for field in ("user_data.ph", "user_data.client_ip_address", "custom_data.num_items"):
        assert field in lines[0]
    assert "contents (the CSV has no column for them)" in lines[0]
    # The files' deadline: the oldest row's 30 days.
    assert "CSV files ready for upload in Ads Manager before " in result.stderr


@pytest.mark.cli
@needs_schema
def test_sigterm_keeps_the_rows_its_states_cover_and_the_resume_writes_the_rest_once(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = singer_lines(300, SCHEMA, state_every=100, now=now)
    # 100 rows under a STATE, 58 after it.
    proc = started_past_the_first_state(tmp_path, csv_config(tmp_path), lines[:160])
    proc.send_signal(signal.SIGTERM)  # as a platform stops a run; stdin stays open
    # Open until the run ended (communicate() would close it): it must end by the
    # signal, not by an end of input that could race it.
    stdin, proc.stdin = proc.stdin, None
    out, err = proc.communicate(timeout=120)
    stdin.close()
    assert proc.returncode == 143, err[-3000:]
    assert out == ""
    assert len(read_rows(tmp_path / "out")) == 100  # no row past the last STATE is left
    rest = [lines[0], state_line({"bookmarks": {"orders": {"n": 100}}}), *lines[102:]]
    again = run_target(tmp_path, csv_config(tmp_path), rest)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(read_rows(tmp_path / "out")) == sorted(
        read_rows_of_clean_run(tmp_path / "clean", lines)
    )
