"""``event_id`` templates: the ids a site's Pinterest Tag sends, built from record fields.

``{"template": "checkout_{order_id}"}`` gives the API's events the ids the Tag sends for
the same purchases (WooCommerce's plugin sends ``checkout_<order id>``), so Pinterest
deduplicates the two. Both routes (the unrolled plan and the full pipeline) fill it the
same way; a field without a value falls back to the derived id, as an empty path does.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from target_pinterest_conversions.conversion.pipeline import convert_record
from target_pinterest_conversions.conversion.plan import StreamPlan
from target_pinterest_conversions.mapping.binding import bind_mapping
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.mapping.spec import MappingConfigError
from tests.cli import run_target

NOW = int(time.time())
RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": ["null", "integer", "string", "boolean"]},
        "shop": {"type": ["null", "object"], "properties": {"code": {"type": ["null", "string"]}}},
        "email": {"type": ["null", "string"]},
        "ts": {"type": "string"},
    },
}


def mapping(template: str) -> dict:
    return {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": "ts",
        "event_id": {"template": template},
        "user_data": {"em": "email"},
    }


def record(**fields: object) -> dict:
    return {"id": 7, "number": 1001, "email": "a@example.com", "ts": RECENT, **fields}


def both_routes(template: str, rec: dict, *, validate: bool = True) -> tuple[dict, list]:
    """The event of the plan's own route, and the full pipeline's conversions."""
    bound, _ = bind_mapping(parse_stream_mapping("orders", mapping(template)), SCHEMA)
    plan = StreamPlan(bound, SCHEMA, ["id"], validate=validate)
    outcome = plan.convert(rec, NOW)
    full = convert_record(rec, bound, key_properties=["id"], now=NOW)
    return outcome.event, full


@pytest.mark.parametrize(
    ("template", "fields", "expected"),
    [
        ("checkout_{number}", {}, "checkout_1001"),
        ("checkout_{number}", {"number": " A-17 "}, "checkout_A-17"),
        ("{shop.code}-{number}", {"shop": {"code": "eu"}}, "eu-1001"),
        ("{{{number}}}", {}, "{1001}"),
        ("order-{number}", {"number": 0}, "order-0"),
    ],
)
def test_both_routes_fill_the_template_alike(template, fields, expected):
    fast, full = both_routes(template, record(**fields))
    (conversion,) = full
    assert conversion.event is not None
    assert conversion.event["event_id"] == expected
    assert fast is not None
    assert fast["event_id"] == expected


@pytest.mark.parametrize("missing", [{"number": None}, {"number": "  "}, {"shop": None}])
def test_a_field_without_a_value_gives_the_derived_id(missing):
    template = "{shop.code}-{number}" if "shop" in missing else "checkout_{number}"
    fields = missing if "shop" in missing else {**missing, "shop": {"code": "eu"}}
    _, full = both_routes(template, record(**fields))
    (conversion,) = full
    derived = conversion.event["event_id"]
    assert len(derived) == 64
    assert int(derived, 16) >= 0


def test_a_value_that_cannot_be_text_rejects_the_event_with_a_reason():
    fast, full = both_routes("checkout_{number}", record(number=True))
    assert fast is None
    (conversion,) = full
    assert conversion.event is None
    assert conversion.reasons == ["event_id is a boolean, not text"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("checkout", "names no field in braces"),
        ("checkout_{", "write {{ and }} for braces"),
        ("checkout_{number:>5}", "takes no format or conversion"),
        ("checkout_{number!r}", "takes no format or conversion"),
        ("checkout_{}", "is not a valid dotted path"),
        (17, "expected text such as"),
    ],
)
def test_a_bad_template_names_the_setting(template, message):
    with pytest.raises(MappingConfigError) as caught:
        parse_stream_mapping("orders", {**mapping("x"), "event_id": {"template": template}})
    assert str(caught.value).startswith("streams.orders.event_id.template: ")
    assert message in str(caught.value)


@pytest.mark.cli
def test_through_the_cli_the_tags_ids_are_sent_and_unknown_fields_are_refused(tmp_path):
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": SCHEMA, "key_properties": ["id"]}
        ),
        json.dumps({"type": "RECORD", "stream": "orders", "record": record()}),
    ]
    config = {"ad_account_id": "549755885175", "dry_run": True, "streams": {}}
    config["streams"]["orders"] = mapping("checkout_{number}")
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    (body,) = (tmp_path / "dry-run.jsonl").read_text().splitlines()
    assert json.loads(body)["data"][0]["event_id"] == "checkout_1001"

    config["streams"]["orders"] = mapping("checkout_{order_number}")
    refused = run_target(tmp_path, config, lines)
    assert refused.returncode == 2
    assert "streams.orders.event_id: stream 'orders' has no field 'order_number'" in refused.stderr
