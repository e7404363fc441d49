"""Decoding only what a stream's plan reads changes no outcome.

The reader decodes a mapped stream's RECORD lines to the part its plan reads
(``conversion/partial.py``), and the plan, unrolled, skips the type checks the decoder
made. For every preset and hand-written mapping, with drawn schemas and records (junk
values, wrong kinds on the way to a value, junk outside the mapped paths), the outcome
of a line decoded in part must equal that of the same line decoded whole: same key,
same event or the same conversions (reasons, dropped values, warnings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any, Optional, get_args

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion.partial import partial_record_type
from target_pinterest_conversions.conversion.plan import StreamPlan
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.reader import (
    PartialRecordMessage,
    SafeMessageReader,
    decode_json,
)
from tests.cli import run_target
from tests.test_fast_path_equivalence import (
    NOW,
    _mappings,
    records,
    schemas,
    spoil_on_the_way,
)

_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _line(stream: str, record: dict[str, Any]) -> bytes | None:
    """The RECORD line a tap would write, or None for a value JSON cannot hold."""
    try:
        return _ENCODER.encode({"type": "RECORD", "stream": stream, "record": record})
    except (TypeError, ValueError, msgspec.EncodeError):
        return None


def _outcome(converted: Any) -> str:
    return repr((converted.key, converted.event, list(converted.conversions)))


@pytest.mark.parametrize(("name", "mapping"), _mappings(), ids=[n for n, _ in _mappings()])
def test_a_line_decoded_in_part_has_the_outcome_of_the_whole_line(name: str, mapping: Any) -> None:
    reach = {"plans": 0, "partial": 0, "whole": 0}

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        typed = data.draw(st.booleans())
        schema = data.draw(schemas(mapping)) if typed else {"type": "object", "properties": {}}
        record = data.draw(records(mapping))
        spoil_on_the_way(record, mapping, data)
        # Outside the mapped paths the decoder skips whatever is there.
        record["not_mapped"] = data.draw(st.sampled_from([None, "x", [1, {"a": 2.5}], {"b": []}]))
        line = _line("s", record)
        assume(line is not None)
        plan = StreamPlan(mapping, schema, ["id"])
        if plan.partial_type is None:
            return  # the plan needs whole records (several item arrays, one event per item)
        reach["plans"] += 1
        reader = SafeMessageReader()
        reader.read_partially("s", plan.partial_type)
        message = reader.deserialize_json(line)
        whole = decode_json(line)["record"]
        expected = _outcome(plan.convert(whole, NOW))
        if message.__class__ is not PartialRecordMessage:
            return  # the decoder refused the line: it is decoded whole, as before
        calls: list[int] = []

        def decode_whole() -> dict[str, Any]:
            calls.append(1)
            return message.whole_record()

        got = plan.convert_partial(message["record"], NOW, decode_whole)
        assert _outcome(got) == expected
        reach["whole" if calls else "partial"] += 1

    check()
    print(f"reach: {reach}")  # shown with -s
    if reach["plans"]:
        # Both routes reached: outcomes from the part alone, and records decoded again.
        assert reach["partial"] >= 5, reach
        assert reach["whole"] >= 3, reach


ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": ["null", "string"]},
        "total": {"type": ["null", "number"]},
        "customer": {
            "type": ["null", "object"],
            "properties": {"email": {"type": ["null", "string"]}},
        },
        "items": {
            "type": ["null", "array"],
            "items": {"type": "object", "properties": {"sku": {"type": ["null", "string"]}}},
        },
    },
}
ORDER_MAPPING = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "created",
    "user_data": {"em": ["email", "customer.email"]},
    "custom_data": {"value": "total", "currency": {"const": "USD"}},
    "contents": {"from": "items", "id": "sku"},
}


def _field(kind: type, *path: str) -> Any:
    for name in path:
        kind = get_args(kind)[0] if get_args(kind) else kind
        kind = kind.__annotations__[name]
    return kind


def test_the_part_checks_the_schemas_types_except_numbers() -> None:
    mapping = parse_stream_mapping("orders", ORDER_MAPPING)
    part = partial_record_type(mapping, ["id"], ORDER_SCHEMA)
    assert _field(part.record, "email") == Optional[str]  # noqa: UP045
    assert _field(part.record, "id") is str
    assert part.record.__required_keys__ == {"id"}  # a key property: never absent
    # msgspec's Decimal also takes strings: numbers are left to the plan's check.
    assert _field(part.record, "total") is Any
    assert ("total",) not in part.checked
    assert {("email",), ("customer",), ("customer", "email"), ("items", "[]", "sku")} <= (
        part.checked
    )
    # Only what is read: no key of the schema beyond the mapped paths.
    assert set(part.record.__annotations__) == {
        "id",
        "email",
        "total",
        "customer",
        "items",
        "created",
    }


def test_a_value_read_whole_and_below_is_not_pruned() -> None:
    spec = {**ORDER_MAPPING, "user_data": {"em": "customer.email", "external_id": "customer"}}
    part = partial_record_type(parse_stream_mapping("orders", spec), ["id"])
    assert _field(part.record, "customer") is Any
    # Read through a node the schema calls text: refused by the schema check, so unchecked.
    text = {
        **ORDER_SCHEMA,
        "properties": {**ORDER_SCHEMA["properties"], "customer": {"type": "string"}},
    }
    part = partial_record_type(parse_stream_mapping("orders", ORDER_MAPPING), ["id"], text)
    assert not {("customer",), ("customer", "email")} & part.checked
    indexed = {**ORDER_MAPPING, "user_data": {"em": "emails.0"}}
    part = partial_record_type(parse_stream_mapping("orders", indexed), ["id"])
    assert _field(part.record, "emails") is Any


def test_the_reader_decodes_registered_streams_in_part() -> None:
    mapping = parse_stream_mapping("orders", ORDER_MAPPING)
    plan = StreamPlan(mapping, ORDER_SCHEMA, ["id"])
    reader = SafeMessageReader()
    reader.read_partially("orders", plan.partial_type)
    line = json.dumps(
        {
            "type": "RECORD",
            "stream": "orders",
            "record": {"id": "1", "email": "A@b.co", "total": 1.50, "note": {"x": 1}},
        }
    )
    message = reader.deserialize_json(line)
    assert message.__class__ is PartialRecordMessage
    assert message["record"] == {"id": "1", "email": "A@b.co", "total": Decimal("1.50")}
    assert message.whole_record()["note"] == {"x": 1}
    # A record that does not fit the part (text where an object is read through), another
    # stream, another message: decoded whole, as every line was before.
    misfit = line.replace('"email": "A@b.co"', '"customer": "text"')
    other = line.replace('"orders"', '"refunds"')
    state = '{"type": "STATE", "value": {"stream": "orders"}}'
    for text in (misfit, other, state):
        assert reader.deserialize_json(text).__class__ is dict
    # Without a key property: decoded whole, so the SDK's error lists the record's keys.
    keyless = line.replace('"id": "1", ', "")
    assert reader.deserialize_json(keyless).__class__ is dict
    reader.read_partially("orders", None)
    assert reader.deserialize_json(line).__class__ is dict
    assert reader.line_number == 6


def test_a_number_the_schema_refuses_is_found_by_the_plan() -> None:
    mapping = parse_stream_mapping("orders", ORDER_MAPPING)
    plan = StreamPlan(mapping, ORDER_SCHEMA, ["id"])
    reader = SafeMessageReader()
    reader.read_partially("orders", plan.partial_type)
    record = {"id": "1", "created": "2026-12-03T10:00:00Z", "email": "a@b.co", "total": "12"}
    line = json.dumps({"type": "RECORD", "stream": "orders", "record": record})
    message = reader.deserialize_json(line)
    converted = plan.convert_partial(message["record"], NOW, message.whole_record)
    (conversion,) = converted.conversions
    assert conversion.event is None
    assert any("'total'" in reason for reason in conversion.reasons), conversion.reasons


@pytest.mark.cli
def test_the_command_reads_records_in_part_and_whole_where_they_do_not_fit(tmp_path: Any) -> None:
    created = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()
    schema = {**ORDER_SCHEMA, "properties": {**ORDER_SCHEMA["properties"], "created": {}}}
    usual = {"id": "1", "created": created, "email": "A@b.co", "total": 12.50}
    records = [
        # Unmapped fields of every kind are skipped by the decoder, not built.
        {**usual, "items": [{"sku": "s1", "junk": {"x": [1, 2.5]}}], "note": {"deep": [1e3]}},
        {**usual, "id": "2", "total": "12"},  # a number as text: the plan's own check
        {**usual, "id": "3", "customer": "text"},  # text read through: decoded whole
    ]
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["id"]}
        )
    ]
    lines += [json.dumps({"type": "RECORD", "stream": "orders", "record": r}) for r in records]
    lines.append(json.dumps({"type": "STATE", "value": {"at": 3}}))
    config = {
        "ad_account_id": "549755885175",
        "dry_run": True,
        "max_rejected_ratio": 1,
        "streams": {"orders": ORDER_MAPPING},
    }
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.states == [{"at": 3}]
    (body,) = [json.loads(line) for line in (tmp_path / "dry-run.jsonl").read_text().splitlines()]
    (event,) = body["data"]
    assert event["user_data"]["em"] == [hashlib.sha256(b"a@b.co").hexdigest()]
    assert event["custom_data"]["value"] == "12.5"
    assert event["custom_data"]["contents"] == [{"id": "s1"}]
    dead = [json.loads(line) for line in (tmp_path / "dead-letter.jsonl").read_text().splitlines()]
    reasons = {d["key"]["id"]: d["reason"] for d in dead}
    assert set(reasons) == {"2", "3"}
    assert "'total'" in reasons["2"] and "'customer'" in reasons["3"], reasons
