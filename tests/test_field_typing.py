"""Type conversion of event fields, and the event built from them (conversion/types.py,
conversion/event.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion.event import (
    build_event,
    derive_event_id,
    derive_from_contents,
)
from target_pinterest_conversions.conversion.types import (
    EventError,
    to_bool,
    to_currency,
    to_decimal_string,
    to_int,
    to_str,
    to_unix_seconds,
)
from target_pinterest_conversions.mapping.spec import RawEvent
from target_pinterest_conversions.pinterest.limits import (
    DOUBLE_MAX,
    DOUBLE_MIN,
    INT64_MAX,
    INT64_MIN,
    InvalidText,
    in_double_range,
)

T = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc)
TS = int(T.timestamp())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.30"), "12.3"),
        (Decimal("12.300000"), "12.3"),
        (Decimal("100"), "100"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.00"), "0"),
        (12.3, "12.3"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5, "5"),
        ("72.39", "72.39"),
        (" 19.90 ", "19.9"),
        (Decimal("-5.50"), "-5.5"),
        (1e-7, "0.0000001"),
    ],
)
def test_decimal_strings(value, expected):
    assert to_decimal_string(value, "value") == expected


@pytest.mark.parametrize(
    "value", ["abc", "", True, [1], {"a": 1}, float("nan"), Decimal("Infinity")]
)
def test_decimal_string_rejects(value):
    with pytest.raises(EventError) as caught:
        to_decimal_string(value, "custom_data.value")
    assert caught.value.reason.startswith("custom_data.value")


@pytest.mark.parametrize(
    ("value", "expected"), [(2, 2), (Decimal("2"), 2), (Decimal("2.0"), 2), (3.0, 3), ("4", 4)]
)
def test_integers(value, expected):
    result = to_int(value, "quantity")
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", [Decimal("2.5"), 2.5, "two", True, None])
def test_integer_rejects(value):
    with pytest.raises(EventError):
        to_int(value, "quantity")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        (" #1001 ", "#1001"),
        (1001, "1001"),
        (Decimal("1001"), "1001"),
        (Decimal("10.5"), "10.5"),
    ],
)
def test_strings(value, expected):
    assert to_str(value, "order_id") == expected


@pytest.mark.parametrize("value", ["", "   ", True, [1], None])
def test_string_rejects(value):
    with pytest.raises(EventError):
        to_str(value, "order_id")


@pytest.mark.parametrize(
    "value",
    [
        T,
        T.replace(tzinfo=None),
        T.astimezone(dt.timezone(dt.timedelta(hours=-5))),
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T05:00:00-05:00",
        "2026-11-20T10:00:00.123456Z",
        "2026-11-20 10:00:00",
        TS,
        TS * 1000,
        Decimal(TS) + Decimal("0.75"),
        float(TS),
        str(TS),
        str(TS * 1000),
    ],
)
def test_event_time_to_unix_seconds(value):
    assert to_unix_seconds(value) == TS


def test_dates_are_midnight_utc():
    assert to_unix_seconds(dt.date(2026, 11, 20)) == TS - 10 * 3600


@pytest.mark.parametrize("value", [None, True, "yesterday", "20/11/2026", -5, [TS], float("inf")])
def test_event_time_rejects(value):
    with pytest.raises(EventError) as caught:
        to_unix_seconds(value)
    assert caught.value.reason.startswith("event_time")


def test_currency():
    assert to_currency("usd") == "USD"
    with pytest.raises(EventError):
        to_currency("US Dollar")


def test_booleans():
    assert to_bool("yes", "opt_out") is True
    assert to_bool(0, "wifi") is False
    with pytest.raises(EventError):
        to_bool("maybe", "opt_out")


def test_derived_event_ids_are_stable_and_distinct():
    a = derive_event_id("orders", {"id": 1}, "checkout")
    assert a == derive_event_id("orders", {"id": 1}, "checkout")
    assert len(a) == 64
    assert (
        len(
            {
                a,
                derive_event_id("orders", {"id": 2}, "checkout"),
                derive_event_id("refunds", {"id": 1}, "checkout"),
                derive_event_id("orders", {"id": 1}, "lead"),
            }
        )
        == 4
    )
    # Key order and number types do not change the id.
    assert derive_event_id("s", {"a": 1, "b": Decimal("2.50")}, "x") == derive_event_id(
        "s", {"b": Decimal("2.5"), "a": 1}, "x"
    )


def raw(**kw) -> RawEvent:
    base = dict(
        event_name="checkout",
        action_source="web",
        event_time=T,
        event_id=None,
        user_data={},
        custom_data={},
    )
    return RawEvent(**{**base, **kw})


def test_build_event_types():
    event = build_event(
        raw(
            event_id=Decimal("1001"),
            custom_data={
                "value": Decimal("51.20"),
                "currency": "usd",
                "num_items": Decimal("3"),
                "order_id": 1001,
                "content_ids": [1, "b"],
            },
            contents=[
                {
                    "id": 800,
                    "item_price": Decimal("12.30"),
                    "quantity": Decimal("1"),
                    "item_name": "Shirt",
                }
            ],
        ),
        stream="orders",
        key={"id": 1},
        partner_name="ss-test",
    )
    assert event == {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": TS,
        "event_id": "1001",
        "partner_name": "ss-test",
        "custom_data": {
            "value": "51.2",
            "currency": "USD",
            "num_items": 3,
            "order_id": "1001",
            "content_ids": ["1", "b"],
            "contents": [{"id": "800", "item_price": "12.3", "quantity": 1, "item_name": "Shirt"}],
        },
    }


def test_build_event_without_event_id_derives_one():
    event = build_event(raw(), stream="orders", key={"id": 7})
    assert event["event_id"] == derive_event_id("orders", {"id": 7}, "checkout")


def test_item_events_get_per_item_ids():
    first = build_event(raw(event_id="o1", item_index=0), stream="s", key={"id": 1})
    second = build_event(raw(event_id="o1", item_index=1), stream="s", key={"id": 1})
    assert (first["event_id"], second["event_id"]) == ("o1:0", "o1:1")
    scoped = build_event(
        raw(event_id="line-9", item_index=1), stream="s", key={"id": 1}, item_scoped_id=True
    )
    assert scoped["event_id"] == "line-9"
    d0 = build_event(raw(item_index=0), stream="s", key={"id": 1})["event_id"]
    d1 = build_event(raw(item_index=1), stream="s", key={"id": 1})["event_id"]
    assert d0 != d1


def test_mapped_partner_name_and_extras():
    event = build_event(
        raw(extra={"partner_name": "ss-stream", "opt_out": "false", "app_name": "Shop"}),
        stream="s",
        key={},
        partner_name="ss-global",
    )
    assert event["partner_name"] == "ss-stream"
    assert event["opt_out"] is False
    assert event["app_name"] == "Shop"


def test_contents_derive_ids_count_and_value():
    data = {
        "contents": [
            {"id": "a", "item_price": "10.5", "quantity": 2},
            {"id": "b", "item_price": "4"},
        ]
    }
    derive_from_contents(data)
    assert data["content_ids"] == ["a", "b"]
    assert data["num_items"] == 3
    assert data["value"] == "25"


def test_contents_never_overwrite_mapped_values_or_guess_a_partial_value():
    data = {
        "value": "99",
        "num_items": 7,
        "content_ids": ["x"],
        "contents": [{"id": "a", "item_price": "1", "quantity": 1}],
    }
    derive_from_contents(data)
    assert (data["value"], data["num_items"], data["content_ids"]) == ("99", 7, ["x"])
    partial = {"contents": [{"id": "a", "item_price": "1"}, {"id": "b"}]}
    derive_from_contents(partial)
    assert "value" not in partial


def test_bad_custom_field_names_the_field():
    with pytest.raises(EventError, match=r"contents\[1\]\.quantity is not a whole number"):
        build_event(
            raw(contents=[{"quantity": 1}, {"quantity": Decimal("1.5")}]), stream="s", key={}
        )


@settings(max_examples=500, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_string_is_the_normalized_plain_form(value):
    if not in_double_range(value):
        with pytest.raises(EventError, match="is out of range"):
            to_decimal_string(value, "value")
        return
    expected = format(value.normalize(), "f")
    assert to_decimal_string(value, "value") == ("0" if expected == "-0" else expected)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=dt.datetime(1971, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5))]),
    ),
    st.sampled_from(["T", " "]),
)
def test_event_time_text_forms_agree(moment, sep):
    expected = int(moment.timestamp())
    text = moment.isoformat(sep=sep)
    assert to_unix_seconds(text) == expected
    if moment.utcoffset() == dt.timedelta(0):
        assert to_unix_seconds(text.replace("+00:00", "Z")) == expected
        assert to_unix_seconds(text.replace("+00:00", "z")) == expected


# Pinterest's limits: int64 for event_time, num_items and quantity; a double for values.


@pytest.mark.parametrize("form", [int, Decimal, str], ids=["int", "Decimal", "text"])
@pytest.mark.parametrize("limit", [INT64_MAX, INT64_MIN], ids=["max", "min"])
def test_integers_up_to_int64_and_not_one_past(form, limit):
    assert to_int(form(limit), "custom_data.num_items") == limit
    past = limit + 1 if limit > 0 else limit - 1
    with pytest.raises(EventError) as caught:
        to_int(form(past), "custom_data.num_items")
    assert caught.value.reason == (
        "custom_data.num_items is out of range (Pinterest takes a 64-bit integer)"
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_to_int_takes_exactly_the_int64_range(number):
    if INT64_MIN <= number <= INT64_MAX:
        assert to_int(number, "n") == number
        assert to_int(Decimal(number), "n") == number
    else:
        with pytest.raises(EventError, match="out of range"):
            to_int(number, "n")
        with pytest.raises(EventError, match="out of range"):
            to_int(str(number), "n")


@pytest.mark.parametrize(
    "value",
    [Decimal("1E+999999"), Decimal("-1E+999999999999"), "9" * 1_000_000, "1e999999999"],
    ids=["1e999999", "-1e999999999999", "million digits", "text exponent"],
)
def test_huge_integers_are_refused_at_once(value):
    started = time.thread_time()  # CPU time: a loaded machine does not stretch it
    with pytest.raises(EventError, match="out of range"):
        to_int(value, "quantity")
    assert time.thread_time() - started < 1


def test_event_time_in_milliseconds_up_to_int64_seconds():
    last = INT64_MAX * 1000 + 999  # milliseconds whose seconds are INT64_MAX
    assert to_unix_seconds(last) == INT64_MAX
    assert to_unix_seconds(str(last)) == INT64_MAX
    with pytest.raises(EventError) as caught:
        to_unix_seconds(last + 1)
    assert caught.value.reason == "event_time is out of range (Pinterest takes int64 seconds)"


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1E+22"),
        Decimal("1E+999999"),
        Decimal("1E+999999999999999"),
        10**4000,
        "1" * 1_000_000,
    ],
    ids=["1e22", "1e999999", "1e999999999999999", "4001 digits", "million-digit text"],
)
def test_huge_event_times_are_refused_at_once(value):
    started = time.thread_time()  # CPU time: a loaded machine does not stretch it
    with pytest.raises(EventError, match="event_time is out of range"):
        to_unix_seconds(value)
    assert time.thread_time() - started < 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "event_time is not a valid Unix timestamp"),
        (float("-inf"), "event_time is not a valid Unix timestamp"),
        (-1_000_000_000_000_000, "event_time is not a valid Unix timestamp"),
        (True, "event_time is a boolean, not a time"),
        (InvalidText("2026-11-20\ud800"), "event_time is not an ISO-8601"),
    ],
)
def test_event_times_that_are_no_time(value, reason):
    with pytest.raises(EventError) as caught:
        to_unix_seconds(value)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DOUBLE_MAX, format(DOUBLE_MAX.normalize(), "f")),
        (-DOUBLE_MAX, format((-DOUBLE_MAX).normalize(), "f")),
        (10**308, "1" + "0" * 308),
        (DOUBLE_MIN, format(DOUBLE_MIN.normalize(), "f")),
        (Decimal("0E-999999"), "0"),
        (Decimal("-0E+999999"), "0"),
    ],
    ids=["max", "-max", "10**308", "min", "zero, tiny exponent", "zero, huge exponent"],
)
def test_decimal_strings_up_to_a_doubles_range(value, expected):
    assert to_decimal_string(value, "value") == expected


@pytest.mark.parametrize(
    "value",
    [
        DOUBLE_MAX.next_plus(),
        -DOUBLE_MAX.next_plus(),
        2 * 10**308,
        DOUBLE_MIN.next_minus(),
        Decimal("1E+999999"),
        Decimal("1E-999999"),
        Decimal("1E+999999999999999999"),
        "1e999999999",
        "1" * 1_000_000,
        "0." + "0" * 1_000_000 + "1",
    ],
    ids=[
        "max+",
        "-max-",
        "2e308",
        "min-",
        "1e999999",
        "1e-999999",
        "1e999999999999999999",
        "text exponent",
        "million digits",
        "million decimals",
    ],
)
def test_decimal_strings_beyond_a_double_are_refused_at_once(value):
    started = time.thread_time()  # CPU time: a loaded machine does not stretch it
    with pytest.raises(EventError) as caught:
        to_decimal_string(value, "contents[0].item_price")
    assert caught.value.reason == (
        "contents[0].item_price is out of range (Pinterest reads it as a double)"
    )
    assert time.thread_time() - started < 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+28"), "1" + "0" * 28),
        (Decimal("-0.0"), "0"),
        (Decimal("12.0"), "12"),
        (2**64, str(2**64)),
        (10**4000, str(10**4000)),
        (Decimal("1E+4299"), "1" + "0" * 4299),
    ],
)
def test_numbers_as_ids_are_written_in_full(value, expected):
    assert to_str(value, "event_id") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("1E+4300"), "order_id is a number of more than 4300 digits"),
        (Decimal("1E+999999999"), "order_id is a number of more than 4300 digits"),
        (Decimal("1.5E-999999"), "order_id is a number of more than 4300 digits"),
        (float("nan"), "order_id is not a finite number"),
        (InvalidText("#1\udc00"), "order_id is not valid Unicode (it holds a lone surrogate)"),
    ],
)
def test_ids_that_cannot_be_written(value, reason):
    started = time.thread_time()  # CPU time: a loaded machine does not stretch it
    with pytest.raises(EventError) as caught:
        to_str(value, "order_id")
    assert caught.value.reason == reason
    assert time.thread_time() - started < 1


def test_quantities_summing_past_int64_are_refused():
    custom = {"contents": [{"quantity": INT64_MAX}, {"quantity": 1}]}
    with pytest.raises(EventError, match="sum of the contents' quantities, is out of range"):
        derive_from_contents(custom)
    custom = {"contents": [{"quantity": INT64_MAX - 1}, {}]}  # a missing quantity counts 1
    derive_from_contents(custom)
    assert custom["num_items"] == INT64_MAX


def test_a_derived_value_past_a_double_is_refused():
    custom = {"contents": [{"item_price": "1E+308", "quantity": 2}]}
    with pytest.raises(EventError, match=r"custom_data\.value is out of range"):
        derive_from_contents(custom)


@pytest.mark.parametrize(
    "odd", [float("nan"), Decimal("NaN"), Decimal("1E+999999999"), float("inf")]
)
def test_derived_event_ids_take_any_number_in_the_record(odd):
    first = derive_event_id("s", {"id": 1, "odd": odd}, "checkout")
    assert first == derive_event_id("s", {"id": 1, "odd": odd}, "checkout")
    assert len(first) == 64


def test_derived_event_ids_of_ordinary_numbers_are_unchanged():
    # In-range numbers keep their canonical form, so re-sent events keep their ids.
    payload = json.dumps(["s", {"id": "7.5", "n": 2**64}, "lead"], separators=(",", ":"))
    expected = hashlib.sha256(payload.encode()).hexdigest()
    assert derive_event_id("s", {"id": Decimal("7.50"), "n": 2**64}, "lead") == expected
