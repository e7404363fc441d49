"""The compiled fast path gives exactly the event the full pipeline gives, or steps aside.

For every preset and for hand-written mappings using each kind of setting, records are
generated along the mapping's own paths with values of every kind (usual, blank, wrong
type, invalid). Whenever the fast path returns an event, ``convert_record`` must give one
conversion with the same event (same keys in the same order), nothing dropped and no
warning; when it returns ``None``, the full pipeline decides.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.fastpath import compile_fast_path
from target_pinterest_conversions.mapping import StreamMapping, compile_stream_mapping
from target_pinterest_conversions.pipeline import convert_record, record_key
from target_pinterest_conversions.presets import PRESETS
from tests.shopify import make_order

NOW = int(time.time())
RECENT = dt.datetime.fromtimestamp(NOW - 3600, dt.timezone.utc).replace(microsecond=0)

CUSTOM_MAPPINGS: dict[str, dict[str, Any]] = {
    "everything": {
        "event_name_from": "kind",
        "event_name_map": {"purchase": "checkout", "lead": "lead"},
        "event_name_fallback": "as_is",
        "action_source_from": "channel",
        "event_time": ["ts", "created"],
        "event_id": "uid",
        "user_data": {
            "em": ["email", "contact.email"],
            "ph": "phone",
            "st": "state",
            "country": "country",
            "fn": "first",
            "ge": "gender",
            "db": "birthday",
            "external_id": "uid",
            "client_ip_address": "ip",
            "client_user_agent": "ua",
        },
        "custom_data": {
            "value": "total",
            "currency": "cur",
            "num_items": "n",
            "content_ids": "skus",
            "order_id": {"const": "fixed"},
        },
        "contents": {"from": "lines", "id": "sku", "item_price": "price", "quantity": "qty"},
        "app_id": "app",
        "opt_out": "optout",
        "partner_name": "partner",
    },
    "derived_ids": {
        "event_name": "lead",
        "action_source": "offline",
        "event_time": "ts",
        "user_data": {"em": "email", "ph": "phone", "zp": "zip"},
    },
}

TEXTS = [
    "jane.doe@example.com",
    " Jane.Doe@Example.COM ",
    "not an email",
    "+1 (415) 555-0100",
    "020 7946 0958",
    "CA",
    "California",
    "US",
    "United Kingdom",
    "zz",
    "f",
    "female",
    "1990-04-02",
    "94107-1234",
    "SW1A 2AA",
    "purchase",
    "lead",
    "web",
    "offline",
    "nowhere",
    "USD",
    "usd",
    "EURO",
    "12.30",
    "7",
    "Zoë",
    "\uff21\uff22\uff23",
    "a" * 64,
    "true",
    "no",
    "",
    "   ",
    RECENT.isoformat().replace("+00:00", "Z"),
    "2001-01-01T00:00:00Z",
]

values = st.one_of(
    st.sampled_from(TEXTS),
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=5),
    st.sampled_from([Decimal("12.30"), Decimal("0.5"), Decimal("1E+2"), Decimal("NaN")]),
    st.sampled_from([12.3, 2.0, float("inf")]),
    st.just(NOW - 60),
    st.lists(st.sampled_from(TEXTS), max_size=3),
    st.just({"nested": "x"}),
)


GOOD: dict[str, list[Any]] = {
    "em": ["jane.doe@example.com", " Jane.Doe@Example.COM "],
    "ph": ["+1 (415) 555-0100", "+44 20 7946 0958", "4155550100"],
    "fn": ["Jane", "Zoë"],
    "ln": ["Doe", "\uff21\uff22\uff23"],
    "ct": ["San Francisco", "Saint-Étienne"],
    "st": ["CA", "California", "ny"],
    "zp": ["94107-1234", "SW1A 2AA"],
    "country": ["US", "United Kingdom", "gb"],
    "ge": ["f", "male"],
    "db": ["1990-04-02"],
    "external_id": ["cust-1", "a" * 64],
    "hashed_maids": ["AAAA-bbbb"],
    "client_ip_address": ["203.0.113.9"],
    "client_user_agent": ["Mozilla/5.0"],
    "event_time": [RECENT.isoformat().replace("+00:00", "Z"), RECENT.isoformat(), NOW - 60],
    "event_id": ["o-1", 12, Decimal("12")],
    "event_name_from": ["purchase", "lead", "Checkout"],
    "action_source_from": ["web", "offline", "App_Android"],
    "value": [Decimal("12.30"), 5, "12.30", Decimal("1E+2")],
    "currency": ["USD", "usd"],
    "num_items": [2, Decimal("2"), "3"],
    "content_ids": [["a", "b"], "sku1", [], [7]],
    "item_price": [Decimal("12.30"), 5],
    "quantity": [1, Decimal("3")],
    "opt_out": [True, "no", 0],
    "wifi": [False, "yes"],
}
"""Usual values per setting, so that most generated records make valid events."""

USUAL_TEXT = ["x", "Product 1", "#1001", 42]


def _draw_value(setting: str, draw: Any) -> Any:
    field = setting.rsplit(".", 1)[-1]
    if draw(st.integers(min_value=0, max_value=7)) == 0:
        return draw(values)
    return draw(st.sampled_from(GOOD.get(field, USUAL_TEXT)))


def _set(record: dict[str, Any], parts: list[str], setting: str, draw: Any) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        record[head] = _draw_value(setting, draw)
    elif rest[0] == "[]":
        items = record.setdefault(head, [])
        if not isinstance(items, list):
            return
        if not items:
            items.extend({} for _ in range(draw(st.integers(min_value=0, max_value=3))))
        for item in items:
            if isinstance(item, dict) and rest[1:]:
                _set(item, rest[1:], setting, draw)
    else:
        child = record.setdefault(head, {})
        if isinstance(child, dict):
            _set(child, rest, setting, draw)


@st.composite
def records(draw: Any, mapping: StreamMapping) -> dict[str, Any]:
    record: dict[str, Any] = {"id": draw(st.sampled_from(["r1", 7, Decimal("7.5")]))}
    paths = sorted(set(mapping.record_paths()), key=lambda sp: sp[1])
    parents = {p.rsplit(".[]", 1)[0] for _, p in paths if ".[]" in p}
    for setting, path in paths:
        if path in parents and draw(st.integers(min_value=0, max_value=5)):
            continue  # usually an array of items, filled by its item paths
        if draw(st.integers(min_value=0, max_value=5)):
            _set(record, path.split("."), setting, draw)
    return record


def _mappings() -> list[tuple[str, StreamMapping]]:
    out = [(name, compile_stream_mapping("s", {"preset": name})) for name in PRESETS]
    out += [(name, compile_stream_mapping("s", spec)) for name, spec in CUSTOM_MAPPINGS.items()]
    return out


@pytest.mark.parametrize(("name", "mapping"), _mappings(), ids=[n for n, _ in _mappings()])
@pytest.mark.parametrize("key_properties", [["id"], []])
@pytest.mark.parametrize(("partner", "country"), [(None, None), ("acme", "GB")])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_agrees_with_the_full_pipeline(
    name: str,
    mapping: StreamMapping,
    key_properties: list[str],
    partner: str | None,
    country: str | None,
    data: st.DataObject,
) -> None:
    record = data.draw(records(mapping))
    fast = compile_fast_path(mapping, partner_name=partner, default_country=country)
    assert fast is not None
    key = record_key(record, key_properties, mapping.hashed_paths)
    event = fast(record, key if key_properties else record, NOW)
    if event is None:
        return
    conversions = convert_record(
        record,
        mapping,
        key_properties=key_properties,
        now=NOW,
        partner_name=partner,
        default_country=country,
    )
    assert len(conversions) == 1
    (conversion,) = conversions
    assert conversion.dropped == []
    assert conversion.warnings == []
    assert not conversion.skipped
    assert conversion.key == key
    # Same content and the same bytes on the wire (key order included).
    assert json.dumps(event, sort_keys=False) == json.dumps(conversion.event, sort_keys=False)


def test_fast_path_takes_the_usual_shopify_order() -> None:
    mapping = compile_stream_mapping("orders", {"preset": "tap-shopify/orders"})
    fast = compile_fast_path(mapping)
    assert fast is not None
    for n in range(50):
        order = json.loads(json.dumps(make_order(n, RECENT), default=str), parse_float=Decimal)
        key = record_key(order, ["id"], mapping.hashed_paths)
        event = fast(order, key, NOW)
        assert event is not None, f"order {n} left the fast path"
        (conversion,) = convert_record(order, mapping, key_properties=["id"], now=NOW)
        assert event == conversion.event


def test_fast_path_steps_aside_for_what_it_does_not_handle() -> None:
    mapping = compile_stream_mapping("orders", {"preset": "tap-shopify/orders"})
    fast = compile_fast_path(mapping)
    assert fast is not None
    order = json.loads(json.dumps(make_order(1, RECENT), default=str), parse_float=Decimal)
    key = record_key(order, ["id"], mapping.hashed_paths)
    for change in (
        {"email": "not an email"},  # dropped value: the full pipeline reports it
        {"email": ["a@example.com", "b@example.com"]},  # lists are de-duplicated there
        {"createdAt": "yesterday"},  # invalid time: dead-lettered with its reason
        {"createdAt": "2001-01-01T00:00:00Z"},  # too old: rejected by validation
        {"currencyCode": "EURO"},
    ):
        assert fast({**order, **change}, key, NOW) is None, change


def test_no_fast_path_for_one_event_per_item() -> None:
    mapping = compile_stream_mapping(
        "s",
        {
            "event_name": "checkout",
            "action_source": "web",
            "event_time": "ts",
            "event_per_item": "items",
            "user_data": {"em": "email"},
        },
    )
    assert compile_fast_path(mapping) is None
