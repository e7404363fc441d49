"""Bad input through the CLI: every case becomes an event, a dead-letter line with a reason,
or a stop that names the line and the problem; never a bare traceback."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest

from target_pinterest_conversions.conversion.checks import TOO_OLD as _TOO_OLD
from tests.cli import command, run_target, write_config

TOO_OLD = _TOO_OLD["api"]

ACCOUNT = "549755885175"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
RECENT = (NOW - dt.timedelta(minutes=30)).isoformat()
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["null", "string"]},
        "ts": {"type": ["null", "string", "integer", "number"]},
        "value": {"type": ["null", "number", "string"]},
        "name": {"type": ["null", "string"]},
        "meta": {"type": ["null", "object"]},
    },
}
MAPPING = {
    "event_name": "lead",
    "action_source": "web",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email", "fn": "name"},
    "custom_data": {"value": "value"},
}


def schema_line(stream: str = "leads") -> str:
    return json.dumps(
        {"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["id"]}
    )


def record(i: int, **fields: object) -> str:
    rec = {
        "id": i,
        "email": f"user{i}@example.com",
        "ts": RECENT,
        "value": 10,
        "name": "Ann",
        **fields,
    }
    return json.dumps({"type": "RECORD", "stream": "leads", "record": rec})


def run(tmp_path, lines: list[str], **config: object):
    cfg = {"ad_account_id": ACCOUNT, "dry_run": True, "streams": {"leads": MAPPING}, **config}
    result = run_target(tmp_path, cfg, lines)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    dead_path = tmp_path / "dead-letter.jsonl"
    dead = [json.loads(x) for x in dead_path.read_text().splitlines()] if dead_path.exists() else []
    sent_path = tmp_path / "dry-run.jsonl"
    sent = [
        e
        for x in (sent_path.read_text().splitlines() if sent_path.exists() else [])
        for e in json.loads(x)["data"]
    ]
    return result, sent, {d["key"]["id"]: d["reason"] for d in dead}


def test_malformed_json_line_stops_with_its_line_number(tmp_path):
    lines = [
        schema_line(),
        record(1),
        '{"type": "RECORD", "stream": "leads", "record": {',
        record(2),
    ]
    result, _sent, _ = run(tmp_path, lines)
    assert result.returncode == 5
    assert "input line 3: not valid JSON" in result.stderr


def test_record_before_schema_stops_with_its_line_number(tmp_path):
    result, _, _ = run(tmp_path, [record(1), schema_line()])
    assert result.returncode == 5
    assert (
        "input line 1: A record for stream 'leads' was encountered before a corresponding schema"
        in result.stderr
    )


def test_non_utf8_bytes_stop_with_the_line_number(tmp_path):
    path = write_config(
        tmp_path, {"ad_account_id": ACCOUNT, "dry_run": True, "streams": {"leads": MAPPING}}
    )
    data = (
        schema_line() + "\n" + record(1) + "\n"
    ).encode() + b'{"type": "RECORD", "stream": "leads", "record": {"id": 2, "name": "\xff\xfe"}}\n'
    proc = subprocess.run(
        [*command(), "--config", str(path)], input=data, capture_output=True, check=False
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 5
    assert "input line 3: not valid UTF-8" in stderr
    assert "Traceback" not in stderr


def test_unknown_message_type_stops_with_its_line_number(tmp_path):
    result, _, _ = run(tmp_path, [schema_line(), json.dumps({"type": "BOGUS"})])
    assert result.returncode == 5
    assert "input line 2: unknown message type 'BOGUS'" in result.stderr


def test_deep_nesting_stops_or_passes_without_a_crash(tmp_path):
    deep: object = "x"
    for _ in range(100):
        deep = {"a": deep}
    ok_line = json.dumps(
        {
            "type": "RECORD",
            "stream": "leads",
            "record": {"id": 1, "email": "a@example.com", "ts": RECENT, "meta": deep},
        }
    )
    too_deep = (
        '{"type": "RECORD", "stream": "leads", "record": {"id": 2, "meta": '
        + "[" * 5000
        + "]" * 5000
        + "}}"
    )
    result, sent, _ = run(tmp_path, [schema_line(), ok_line, too_deep])
    assert result.returncode == 5
    assert "input line 3: nested too deeply" in result.stderr
    (tmp_path / "ok").mkdir()
    result, sent, _ = run(tmp_path / "ok", [schema_line(), ok_line])
    assert result.returncode == 0
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ts": None}, "event_time is missing"),
        ({"ts": "23/11/2026 10:00"}, "event_time is not an ISO-8601 date-time or Unix timestamp"),
        ({"ts": "yesterday"}, "event_time is not an ISO-8601 date-time or Unix timestamp"),
        ({"ts": (NOW - dt.timedelta(days=8)).isoformat()}, TOO_OLD),
        ({"ts": (NOW + dt.timedelta(hours=1)).isoformat()}, "event_time is in the future"),
        (
            {"ts": int((NOW - dt.timedelta(days=30)).timestamp() * 1000)},
            "event_time is more than 7 days old: the API takes 7 days; output: csv takes 28",
        ),
        ({"email": None}, "user_data has no match key"),
        ({"email": "not-an-address"}, "user_data has no match key"),
        ({"email": 12345}, "field 'email' does not match the stream schema"),
        ({"value": "abc"}, "custom_data.value is not a number"),
        ({"value": [1, 2]}, "field 'value' does not match the stream schema"),
        ({"value": True}, "field 'value' does not match the stream schema"),
    ],
    ids=[
        "null-time",
        "dmy-time",
        "word-time",
        "old",
        "future",
        "old-epoch-ms",
        "null-email",
        "bad-email",
        "number-for-string",
        "string-for-number",
        "array-for-number",
        "bool-for-number",
    ],
)
def test_records_that_cannot_be_events_are_dead_lettered_with_a_reason(tmp_path, fields, reason):
    result, sent, dead = run(tmp_path, [schema_line(), record(1), record(2, **fields), record(3)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert [e["event_id"] for e in sent] == ["1", "3"]
    assert dead[2].startswith(reason), dead[2]
    assert "user2@example.com" not in (tmp_path / "dead-letter.jsonl").read_text()


@pytest.mark.parametrize(
    "ts",
    [
        NOW.isoformat(),
        (NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        (NOW - dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat(),
        int((NOW - dt.timedelta(hours=1)).timestamp()),
        int((NOW - dt.timedelta(hours=1)).timestamp() * 1000),
        str(int((NOW - dt.timedelta(hours=1)).timestamp())),
        (NOW - dt.timedelta(hours=1)).timestamp() + 0.5,
    ],
    ids=[
        "iso-offset",
        "iso-z",
        "space-naive",
        "other-zone",
        "epoch-s",
        "epoch-ms",
        "epoch-text",
        "epoch-float",
    ],
)
def test_time_formats_that_become_valid_events(tmp_path, ts):
    result, sent, dead = run(tmp_path, [schema_line(), record(1, ts=ts)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert dead == {}
    expected = (
        int(NOW.timestamp())
        if ts == NOW.isoformat()
        else int((NOW - dt.timedelta(hours=1)).timestamp())
    )
    assert sent[0]["event_time"] == expected


def test_missing_fields_and_huge_strings_do_not_crash(tmp_path):
    huge = "a" * 2_000_000
    lines = [
        schema_line(),
        json.dumps(
            {
                "type": "RECORD",
                "stream": "leads",
                "record": {"id": 1, "ts": RECENT, "email": "x@example.com"},
            }
        ),
        record(2, name=huge),
        record(3, email=huge + "@example.com"),
    ]
    result, sent, dead = run(tmp_path, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [e["event_id"] for e in sent] == ["1", "2", "3"]
    assert huge not in result.stderr
    assert dead == {}


def test_duplicate_records_are_sent_with_the_same_event_id(tmp_path):
    result, sent, _dead = run(tmp_path, [schema_line(), record(1), record(1), record(1)])
    assert result.returncode == 0
    assert [e["event_id"] for e in sent] == ["1", "1", "1"]


def test_a_stream_whose_records_are_mostly_rejected_stops_the_run(tmp_path):
    lines = [schema_line()] + [record(i, email=None) for i in range(2500)]
    lines.append(json.dumps({"type": "STATE", "value": {"leads": 2500}}))
    result, _sent, dead = run(tmp_path, lines, summary_path=str(tmp_path / "summary.json"))
    assert result.returncode == 6
    assert "stream 'leads': 1000 of 1000 records were rejected" in result.stderr
    assert "max_rejected_ratio 0.5" in result.stderr
    # It stopped after the first batch instead of dead-lettering everything.
    assert len(dead) == 1000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 6
    assert summary["streams"]["leads"]["dead_lettered_locally"] == 1000


def test_a_few_rejections_under_the_ratio_succeed_and_the_ratio_applies_at_the_end(tmp_path):
    lines = [schema_line()] + [
        record(i, email=None if i % 4 == 0 else f"u{i}@example.com") for i in range(40)
    ]
    result, sent, dead = run(tmp_path, lines, summary_path=str(tmp_path / "s.json"))
    assert result.returncode == 0
    assert len(sent) == 30
    assert len(dead) == 10
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["status"] == "succeeded"
    reasons = summary["streams"]["leads"]["reasons"]
    assert list(reasons.values()) == [10]
    assert next(iter(reasons)).startswith("user_data has no match key")
    (tmp_path / "strict").mkdir()
    result, _, _ = run(tmp_path / "strict", lines, max_rejected_ratio=0.2)
    assert result.returncode == 6


def test_schema_rules_beyond_types_are_checked_before_conversion(tmp_path):
    # With only types along the mapped paths the fast path checks them as it reads;
    # other rules (here a maximum length) are checked first, by the validator.
    strict = json.loads(json.dumps(SCHEMA))
    strict["properties"]["name"] = {"type": ["null", "string"], "maxLength": 5}
    schema = json.dumps(
        {"type": "SCHEMA", "stream": "leads", "schema": strict, "key_properties": ["id"]}
    )
    lines = [schema, record(1), record(2, name="Annabelle"), record(3, email=7), record(4)]
    result, sent, dead = run(tmp_path, lines, max_rejected_ratio=1)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [e["event_id"] for e in sent] == ["1", "4"]
    assert dead[2] == "field 'name' does not match the stream schema (maxLength: 5)"
    assert dead[3].startswith("field 'email' does not match the stream schema (type:")
    assert "Annabelle" not in (tmp_path / "dead-letter.jsonl").read_text()
