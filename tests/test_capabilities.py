"""SDK capabilities through the CLI: stream maps and schema flattening ahead of the mapping."""

from __future__ import annotations

import datetime as dt
import json

from tests.cli import run_target

RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)).isoformat()
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["null", "string"]},
        "ts": {"type": "string"},
        "total": {"type": "number"},
        "address": {
            "type": ["null", "object"],
            "properties": {"city": {"type": ["null", "string"]}},
        },
    },
}
MAPPING = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email"},
}


def lines(stream: str) -> list[str]:
    out = [
        json.dumps({"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["id"]})
    ]
    for i in range(1, 5):
        record = {
            "id": i,
            "email": f"u{i}@example.com",
            "ts": RECENT,
            "total": i * 10,
            "address": {"city": "Paris"},
        }
        out.append(json.dumps({"type": "RECORD", "stream": stream, "record": record}))
    return out


def sent(tmp_path) -> list[dict]:
    path = tmp_path / "dry-run.jsonl"
    return (
        [e for line in path.read_text().splitlines() for e in json.loads(line)["data"]]
        if path.exists()
        else []
    )


def test_stream_maps_rename_and_filter_before_mapping(tmp_path):
    config = {
        "ad_account_id": "1",
        "dry_run": True,
        "stream_maps": {
            "raw_orders": {"__alias__": "orders", "__filter__": "record['total'] > 15"}
        },
        "streams": {"orders": MAPPING},
    }
    result = run_target(tmp_path, config, lines("raw_orders"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [e["event_id"] for e in sent(tmp_path)] == ["2", "3", "4"]


def test_flattened_records_are_mapped_by_their_flattened_names(tmp_path):
    config = {
        "ad_account_id": "1",
        "dry_run": True,
        "flattening_enabled": True,
        "flattening_max_depth": 1,
        "streams": {"orders": {**MAPPING, "user_data": {"em": "email", "ct": "address__city"}}},
    }
    result = run_target(tmp_path, config, lines("orders"))
    assert result.returncode == 0, result.stderr[-2000:]
    events = sent(tmp_path)
    assert len(events) == 4
    assert all(len(e["user_data"]["ct"]) == 1 for e in events)


def test_nested_paths_with_flattening_on_fail_naming_the_flattened_field(tmp_path):
    config = {
        "ad_account_id": "1",
        "dry_run": True,
        "flattening_enabled": True,
        "flattening_max_depth": 1,
        "streams": {"orders": {**MAPPING, "user_data": {"em": "email", "ct": "address.city"}}},
    }
    result = run_target(tmp_path, config, lines("orders"))
    assert result.returncode == 2
    assert "streams.orders.user_data.ct" in result.stderr
    assert "address__city" in result.stderr


def test_validate_records_on_and_off(tmp_path):
    bad = lines("orders")
    bad.append(
        json.dumps(
            {
                "type": "RECORD",
                "stream": "orders",
                "record": {"id": 9, "email": 5, "ts": RECENT, "total": 1},
            }
        )
    )
    config = {"ad_account_id": "1", "dry_run": True, "streams": {"orders": MAPPING}}
    (tmp_path / "on").mkdir()
    result = run_target(tmp_path / "on", config, bad)
    assert result.returncode == 0
    dead = (tmp_path / "on" / "dead-letter.jsonl").read_text()
    assert "field 'email' does not match the stream schema" in dead
    (tmp_path / "off").mkdir()
    result = run_target(tmp_path / "off", {**config, "validate_records": False}, bad)
    assert result.returncode == 0
    dead = (tmp_path / "off" / "dead-letter.jsonl").read_text()
    assert "user_data has no match key" in dead
