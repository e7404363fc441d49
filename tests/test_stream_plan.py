"""A stream's conversion plan (conversion/plan.py): route and order of checks, no SDK."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from target_pinterest_conversions.conversion.plan import StreamPlan
from target_pinterest_conversions.mapping.binding import bind_mapping
from target_pinterest_conversions.mapping.parse import parse_stream_mapping

NOW = int(time.time())
RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()
TYPES_ONLY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["null", "string"]},
        "ts": {"type": "string"},
        "event": {"type": ["null", "string"]},
    },
}
WITH_RULES = {
    **TYPES_ONLY,
    "properties": {**TYPES_ONLY["properties"], "email": {"type": "string", "maxLength": 20}},
}
SPEC = {
    "event_name": "lead",
    "action_source": "web",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email"},
}


def converter(schema=TYPES_ONLY, spec=SPEC, **options) -> StreamPlan:
    mapping, _ = bind_mapping(parse_stream_mapping("s", spec), schema)
    return StreamPlan(mapping, schema, ["id"], **options)


def test_a_usual_record_takes_the_fast_path():
    out = converter().convert({"id": 1, "email": "a@example.com", "ts": RECENT}, NOW)
    assert out.event is not None
    assert out.event["event_id"] == "1"
    assert out.conversions == ()
    assert out.key == {"id": 1}


def test_types_only_schemas_are_checked_inside_the_fast_path():
    checked = converter()
    assert checked.check_first is False
    assert checked.fast_path is not None


def test_schemas_with_other_rules_are_checked_first():
    strict = converter(WITH_RULES)
    assert strict.check_first is True
    out = strict.convert({"id": 1, "email": "a-very-long-address@example.com", "ts": RECENT}, NOW)
    assert out.event is None
    (rejected,) = out.conversions
    assert rejected.event is None
    assert rejected.reasons and "email" in rejected.reasons[0]


@pytest.mark.parametrize("validate", [True, False])
def test_a_record_breaking_the_schema_is_rejected_only_when_validating(validate):
    out = converter(validate=validate).convert({"id": 1, "email": 5, "ts": RECENT}, NOW)
    assert out.event is None
    (conversion,) = out.conversions
    if validate:
        assert "field 'email' does not match the stream schema" in conversion.reasons[0]
    else:
        # Unvalidated, the number is no address: left out, so no match key remains.
        assert conversion.dropped == [("em", "is not an email address")]
        assert "user_data has no match key" in conversion.reasons[0]


def test_an_unusual_record_takes_the_full_pipeline_with_its_reasons():
    out = converter().convert({"id": 1, "ts": RECENT}, NOW)
    assert out.event is None
    (conversion,) = out.conversions
    assert conversion.reasons == [
        "user_data has no match key: needs em, hashed_maids, or both client_ip_address "
        "and client_user_agent"
    ]


def test_warnings_and_skips_come_back_from_the_full_pipeline():
    spec = {**SPEC, "event_name_from": "event", "event_name_fallback": "skip"}
    del spec["event_name"]
    out = converter(spec=spec).convert(
        {"id": 1, "email": "a@example.com", "ts": RECENT, "event": "Nope"}, NOW
    )
    (conversion,) = out.conversions
    assert conversion.skipped


def test_event_per_item_has_no_fast_path_and_gives_one_conversion_per_item():
    schema = {
        **TYPES_ONLY,
        "properties": {
            **TYPES_ONLY["properties"],
            "items": {"type": "array", "items": {"type": "object"}},
        },
    }
    spec = {**SPEC, "event_per_item": "items", "custom_data": {"content_ids": "$item.sku"}}
    conv = converter(schema, spec)
    assert conv.fast_path is None
    record = {
        "id": 1,
        "email": "a@example.com",
        "ts": RECENT,
        "items": [{"sku": "a"}, {"sku": "b"}],
    }
    out = conv.convert(record, NOW)
    assert [c.event["event_id"] for c in out.conversions] == ["1:0", "1:1"]
