"""Property-based tests: arbitrary JSON records never raise anything but documented errors.

Mapping, conversion, normalization and validation are pure; whatever a tap sends, they
either produce events that Pinterest's schema accepts or reasons, never an exception.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.events import (
    EventError,
    to_decimal_string,
    to_int,
    to_unix_seconds,
)
from target_pinterest_conversions.mapping import compile_stream_mapping
from target_pinterest_conversions.pipeline import convert_record
from target_pinterest_conversions.privacy import (
    NORMALIZERS,
    DroppedValue,
    build_user_data,
    hash_value,
)
from tests.pinterest_schema import load_request_validator

VALIDATOR = load_request_validator()

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.datetimes(timezones=st.one_of(st.none(), st.just(dt.timezone.utc))),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=20,
)
FIELDS = [
    "id",
    "email",
    "phone",
    "name",
    "city",
    "state",
    "zip",
    "country",
    "ts",
    "value",
    "qty",
    "items",
    "event",
    "dob",
    "gender",
    "ip",
    "ua",
]
records = st.fixed_dictionaries({}, optional={f: json_values for f in FIELDS})

MAPPING = compile_stream_mapping(
    "s",
    {
        "event_name_from": "event",
        "event_name_map": ["segment", "converge"],
        "event_name_fallback": "skip",
        "action_source": "web",
        "event_time": "ts",
        "event_id": "id",
        "user_data": {
            "em": "email",
            "ph": "phone",
            "fn": "name",
            "ct": "city",
            "st": "state",
            "zp": "zip",
            "country": "country",
            "db": "dob",
            "ge": "gender",
            "client_ip_address": "ip",
            "client_user_agent": "ua",
        },
        "custom_data": {"value": "value", "num_items": "qty", "currency": {"const": "USD"}},
        "contents": {"from": "items", "id": "id", "item_price": "price", "quantity": "qty"},
    },
)
ITEM_MAPPING = compile_stream_mapping(
    "s",
    {
        "event_name": "add_to_cart",
        "action_source": "web",
        "event_time": "ts",
        "event_per_item": "items",
        "user_data": {"em": "email", "client_ip_address": "ip", "client_user_agent": "ua"},
        "custom_data": {"content_ids": "$item.id", "value": "$item.price"},
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records, st.sampled_from([MAPPING, ITEM_MAPPING]), st.sampled_from([None, "US", "GB"]))
def test_any_record_gives_valid_events_or_reasons(record, mapping, country):
    now = int(time.time())
    for conversion in convert_record(
        record, mapping, key_properties=["id"], now=now, default_country=country
    ):
        if conversion.event is None:
            assert conversion.reasons
            assert all(isinstance(r, str) and r for r in conversion.reasons)
            continue
        assert conversion.reasons == []
        if VALIDATOR is not None:
            errors = [e.message for e in VALIDATOR.iter_errors({"data": [conversion.event]})]
            assert errors == [], (conversion.event, errors)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(NORMALIZERS)), json_values)
def test_normalizers_only_raise_dropped_value(field, value):
    try:
        digest = hash_value(field, value)
    except DroppedValue as exc:
        assert exc.reason  # noqa: PT017
    else:
        assert len(digest) == 64
        assert digest == digest.lower()


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["em", "ph", "st", "country", "zp", "client_ip_address"]), json_values
    )
)
def test_build_user_data_never_raises(raw):
    data, dropped = build_user_data(raw, "US")
    assert isinstance(data, dict)
    assert all(isinstance(reason, str) for _, reason in dropped)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_converters_only_raise_event_error(value):
    for convert in (
        to_unix_seconds,
        lambda v: to_decimal_string(v, "value"),
        lambda v: to_int(v, "n"),
    ):
        try:
            result = convert(value)
        except EventError as exc:
            assert exc.reason  # noqa: PT017
        else:
            assert isinstance(result, (int, str))


@given(
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=4)
)
def test_decimal_strings_round_trip_exactly(number):
    assert Decimal(to_decimal_string(number, "value")) == number
