"""Several ad accounts from one target, through the CLI against the local schema-checking server.

Two streams with their own accounts, one stream whose records name their account, the
dead-letter and dry-run lines naming it, the summary by account, config errors before
any input, ``--check`` on every known account, test mode's pace, and a run killed with
SIGKILL and resumed from its last STATE losing nothing on either account.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from tests.cli import (
    kill_after_states,
    run_target,
    run_with_stdin_open,
)
from tests.fake_pinterest import FakePinterest, Scripted
from tests.singer import CHECKOUT, ORDERS_SCHEMA, RECENT, state_line

TOKEN = "test-token-XYZ"
A, B = "111111111111", "222222222222"
SCHEMA = {
    **ORDERS_SCHEMA,
    "properties": {
        **ORDERS_SCHEMA["properties"],
        "account": {"type": ["null", "string", "integer"]},
    },
}


def schema_line(stream: str) -> str:
    return json.dumps(
        {"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["id"]}
    )


def record_line(stream: str, i: int, **fields: object) -> str:
    record = {"id": i, "email": f"buyer{i}@example.com", "ts": RECENT, **fields}
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def account_of(i: int) -> str:
    """The account of record ``i`` in the streams whose records name it."""
    return A if i % 3 else B


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def messages(stderr: str) -> list[str]:
    return [line.split(" | ", 3)[-1] for line in stderr.splitlines()]


def live(api: FakePinterest, streams: dict[str, Any], **extra: object) -> dict[str, Any]:
    return {
        "access_token": TOKEN,
        "api_url": api.url,
        "max_tries": 3,
        "streams": streams,
        **extra,
    }


def assert_each_request_went_to_one_account(api: FakePinterest, expected: dict[int, str]) -> None:
    """Every event of every request is one that belongs to the request's account."""
    for request in api.requests:
        assert {expected[int(e["event_id"])] for e in request.events} == {request.account}


def test_two_streams_with_their_own_accounts_reach_the_two_endpoints(tmp_path):
    streams = {
        "orders": {**CHECKOUT, "ad_account_id": A},
        "signups": {**CHECKOUT, "event_name": "signup", "ad_account_id": {"const": B}},
    }
    lines = [schema_line("orders"), schema_line("signups")]
    for i in range(30):
        lines.append(record_line("orders", i))
        if i < 20:
            lines.append(record_line("signups", 1000 + i))
        if i % 10 == 9:
            lines.append(state_line({"at": i}))
    summary = tmp_path / "summary.json"
    with FakePinterest(token=TOKEN, ad_account_id=[A, B]) as api:
        result = run_target(
            tmp_path,
            live(api, streams, batch_size_rows=10, summary_path=str(summary)),
            lines,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.errors == []  # every body met Pinterest's schema, every path an account's
    accepted = api.accepted_by_account()
    assert sorted(accepted[A], key=int) == [str(i) for i in range(30)]
    assert sorted(accepted[B], key=int) == [str(1000 + i) for i in range(20)]
    assert_each_request_went_to_one_account(
        api, {**dict.fromkeys(range(30), A), **dict.fromkeys(range(1000, 1020), B)}
    )
    assert result.states[-1] == {"at": 29}
    report = json.loads(summary.read_text())
    assert report["by_ad_account"] == {
        A: {
            "events_sent": 30,
            "processed": 30,
            "failed_at_pinterest": 0,
            "events_written": 0,
            "dead_lettered_locally": 0,
        },
        B: {
            "events_sent": 20,
            "processed": 20,
            "failed_at_pinterest": 0,
            "events_written": 0,
            "dead_lettered_locally": 0,
        },
    }
    said = messages(result.stderr)
    host = api.url.removeprefix("http://")
    assert said[0] == f"LIVE: {host}, ad accounts {A}, {B}"
    assert (
        f"Summary for ad account {A}: 30 events sent, 30 processed, 0 failed at Pinterest, "
        "0 dead-lettered locally"
    ) in said
    assert (
        f"Summary for ad account {B}: 20 events sent, 20 processed, 0 failed at Pinterest, "
        "0 dead-lettered locally"
    ) in said


def test_a_stream_whose_records_name_their_account_splits_its_events_by_record(tmp_path):
    """Per record: each event to its record's account, in requests of one account each;
    records without a usable account and events Pinterest fails are dead-lettered with
    the account named (or null), and the wrong value is never echoed."""
    streams = {"events": {**CHECKOUT, "ad_account_id": "account"}}
    lines = [schema_line("events")]
    expected: dict[int, str] = {}
    for i in range(40):
        account = account_of(i)
        expected[i] = account
        # Accounts come as text and as numbers, as taps write them.
        value: object = int(account) if i % 4 == 0 else account
        lines.append(record_line("events", i, account=value))
    lines.append(record_line("events", 40, account=None))
    lines.append(record_line("events", 41, account="jane.doe@example.com"))
    lines.append(record_line("events", 42, account="1234567890123456789"))
    lines.append(state_line({"done": True}))
    summary = tmp_path / "summary.json"
    with FakePinterest(token=TOKEN, ad_account_id=[A, B]) as api:
        api.fail_ids["3"] = "Invalid currency"  # record 3 goes to account B
        result = run_target(
            tmp_path,
            live(api, streams, batch_size_rows=10, summary_path=str(summary)),
            lines,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.errors == []
    accepted = api.accepted_by_account()
    assert sorted(accepted[A], key=int) == [str(i) for i in range(40) if expected[i] == A]
    assert sorted(accepted[B], key=int) == [
        str(i) for i in range(40) if expected[i] == B and i != 3
    ]
    assert_each_request_went_to_one_account(api, expected)
    assert result.states[-1] == {"done": True}

    dead = {d["key"]["id"]: d for d in read_jsonl(tmp_path / "dead-letter.jsonl")}
    assert set(dead) == {3, 40, 41, 42}
    assert dead[3]["ad_account_id"] == B
    assert dead[3]["stage"] == "pinterest"
    assert dead[3]["reason"] == "Pinterest: Invalid currency"
    assert dead[40]["ad_account_id"] is None
    assert dead[40]["reason"] == (
        "ad_account_id is missing: the record has no value for streams.events.ad_account_id"
    )
    for i in (41, 42):
        assert dead[i]["ad_account_id"] is None
        assert dead[i]["stage"] == "target"
        assert (
            dead[i]["reason"]
            == "ad_account_id is not 1 to 18 digits (streams.events.ad_account_id)"
        )
        assert dead[i]["event"]["event_id"] == str(i)  # the hashed event, ready for a replay
    everything = result.stdout + result.stderr + (tmp_path / "dead-letter.jsonl").read_text()
    assert "jane.doe@example.com" not in everything
    assert "1234567890123456789" not in everything
    assert TOKEN not in everything

    report = json.loads(summary.read_text())
    stream = report["streams"]["events"]
    assert stream["records_read"] == 43
    assert stream["dead_lettered_locally"] == 3
    assert stream["failed_at_pinterest"] == 1
    by_account = report["by_ad_account"]
    to_a = sum(1 for i in range(40) if expected[i] == A)
    assert by_account[A]["events_sent"] == by_account[A]["processed"] == to_a
    assert by_account[B]["events_sent"] == 40 - to_a
    assert by_account[B]["failed_at_pinterest"] == 1
    assert set(by_account) == {A, B}  # records without an account are their stream's only


def test_dry_run_lines_and_dead_letter_lines_name_the_account(tmp_path):
    streams = {
        "orders": {**CHECKOUT, "ad_account_id": "account"},
        "signups": {**CHECKOUT, "event_name": "signup"},  # the top-level account
    }
    lines = [schema_line("orders"), schema_line("signups")]
    lines += [record_line("orders", i, account=account_of(i)) for i in range(12)]
    lines += [record_line("signups", 100 + i) for i in range(3)]
    lines.append(record_line("signups", 200, email=None))  # no match key
    config = {"ad_account_id": "333", "dry_run": True, "streams": streams}
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    bodies = read_jsonl(tmp_path / "dry-run.jsonl")
    assert {b["ad_account_id"] for b in bodies} == {A, B, "333"}
    for body in bodies:
        assert set(body) == {"ad_account_id", "data"}
        for event in body["data"]:
            i = int(event["event_id"])
            assert body["ad_account_id"] == (account_of(i) if i < 100 else "333")
    assert sum(len(b["data"]) for b in bodies) == 15
    dead = read_jsonl(tmp_path / "dead-letter.jsonl")
    assert [(d["key"]["id"], d["ad_account_id"]) for d in dead] == [(200, "333")]
    assert messages(result.stderr)[0].startswith("DRY RUN: request bodies to ")
    said = messages(result.stderr)
    assert "Summary for ad account 333: 3 events written to the dry-run file (not sent), " in (
        "\n".join(said)
    )


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        (
            {"orders": {**CHECKOUT, "ad_account_id": A}, "signups": CHECKOUT},
            "Config error: ad_account_id: required unless every stream in streams sets its own "
            "ad_account_id (not set for: signups)",
        ),
        (
            {"orders": {**CHECKOUT, "ad_account_id": {"const": "12ab"}}},
            "Config error: streams.orders.ad_account_id: expected the ad account's id (1 to 18 "
            'digits), a path of a record field holding it ("a.b"), a list of paths or '
            '{"const": "<digits>"}',
        ),
        (
            {"orders": {**CHECKOUT, "ad_account_id": "$item.account"}},
            "Config error: streams.orders.ad_account_id: reads the record, not $item: each "
            "record goes to one ad account",
        ),
    ],
    ids=["a-stream-without-account", "bad-constant", "item-path"],
)
def test_account_config_errors_exit_2_naming_the_setting_before_reading_input(
    tmp_path, streams, message
):
    config = {"access_token": TOKEN, "streams": streams}
    result = run_with_stdin_open(tmp_path, config)
    assert result.returncode == 2, result.stderr[-3000:]
    assert messages(result.stderr)[-1] == message
    assert TOKEN not in result.stderr


def test_a_missing_account_field_in_the_schema_stops_before_any_record(tmp_path):
    streams = {"orders": {**CHECKOUT, "ad_account_id": "acount"}}
    lines = [schema_line("orders"), record_line("orders", 1, account=A)]
    result = run_target(tmp_path, {"dry_run": True, "streams": streams}, lines)
    assert result.returncode == 2
    assert (
        "streams.orders.ad_account_id: stream 'orders' has no field 'acount' in its schema "
        "(nearest: account)"
    ) in result.stderr
    assert not (tmp_path / "dry-run.jsonl").exists() or not (tmp_path / "dry-run.jsonl").read_text()


def test_check_sends_one_test_event_to_each_account_known_before_the_input(tmp_path):
    streams = {
        "orders": {**CHECKOUT, "ad_account_id": B},
        "signups": CHECKOUT,
        "events": {**CHECKOUT, "ad_account_id": "account"},
    }
    with FakePinterest(token=TOKEN, ad_account_id=[A, B]) as api:
        config = live(api, streams, ad_account_id=A)
        result = run_with_stdin_open(tmp_path, config, "--check")
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.errors == []
    assert [(r.account, r.query) for r in api.requests] == [
        (A, {"test": ["true"]}),
        (B, {"test": ["true"]}),
    ]
    assert messages(result.stderr)[-1] == (
        f"Connection check passed: {api.url.removeprefix('http://')} accepted a test event "
        f"for each of ad accounts {A}, {B} with this access token (sent with test=true: "
        "validated, not recorded); the ad accounts that streams events read from their "
        "records are known only from the input, and were not checked"
    )


def test_check_stops_at_the_first_account_refused_and_names_it(tmp_path):
    streams = {"orders": {**CHECKOUT, "ad_account_id": B}, "signups": CHECKOUT}
    with FakePinterest(token=TOKEN, ad_account_id=[A, B]) as api:
        api.script_for[B] = deque([Scripted(status=403, body={"code": 29, "message": "no"})])
        config = live(api, streams, ad_account_id=A)
        result = run_with_stdin_open(tmp_path, config, "--check")
    assert result.returncode == 3
    assert f"access to ad account {B} was denied (403)" in messages(result.stderr)[-1]


def test_test_requests_are_held_to_ten_a_second(tmp_path):
    streams = {"events": {**CHECKOUT, "ad_account_id": "account"}}
    lines = [schema_line("events")]
    lines += [record_line("events", i, account=account_of(i)) for i in range(60)]
    with FakePinterest(token=TOKEN, ad_account_id=[A, B]) as api:
        result = run_target(
            tmp_path,
            live(api, streams, test_mode=True, batch_size_rows=5, max_parallel_requests=4),
            lines,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(api.requests) >= 12
    assert all(r.query == {"test": ["true"]} for r in api.requests)
    times = sorted(api.arrivals)
    # One bucket for the app, whatever the account: requests leave 0.1 s apart. A thread
    # held up on its way can only make its request arrive later, so a second of
    # arrivals holds 10, or 11 with such a late one; unpaced, they would all come at once.
    assert max(sum(t <= u < t + 1.0 for u in times) for t in times) <= 11
    assert times[-1] - times[0] >= 0.1 * (len(times) - 1) - 0.1


def _lines(start: int, stop: int, every: int) -> list[str]:
    out = [schema_line("events")]
    for i in range(start, stop):
        out.append(record_line("events", i, account=account_of(i)))
        if (i + 1) % every == 0 or i == stop - 1:
            out.append(state_line({"events": i + 1}))
    return out


@pytest.mark.slow
def test_kill_9_then_resume_from_the_last_state_loses_nothing_on_either_account(tmp_path):
    total, batch = 1200, 50
    streams = {"events": {**CHECKOUT, "ad_account_id": "account"}}
    with FakePinterest(token=TOKEN, ad_account_id=[A, B], delay=0.05) as api:
        config = live(api, streams, batch_size_rows=batch, max_parallel_requests=4)
        states = kill_after_states(tmp_path, config, _lines(0, total, batch), 4)
        resume_at = states[-1]["events"]
        assert resume_at < total
        first = api.accepted_by_account()
        for account in (A, B):
            wanted = {str(i) for i in range(resume_at) if account_of(i) == account}
            assert wanted <= set(first.get(account, [])), account

        (tmp_path / "resume").mkdir()
        result = run_target(tmp_path / "resume", config, _lines(resume_at, total, batch))
        assert result.returncode == 0, result.stderr[-3000:]
        accepted = api.accepted_by_account()
    assert api.errors == []
    for account in (A, B):
        wanted = {str(i) for i in range(total) if account_of(i) == account}
        assert set(accepted[account]) == wanted, account
    everything = [i for ids in accepted.values() for i in ids]
    assert len(everything) - total <= 5 * batch, "more than the batches in flight re-sent"
