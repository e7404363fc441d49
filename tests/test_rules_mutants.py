"""Rules that mutation testing found unstated (README "Mutation testing").

Each test states a rule of the pure rule modules (``privacy``, ``events``, ``validation``,
``limits``, ``vocabulary``, ``suggest``) that no other test held: a mutant of that rule
survived the suite before it. The rules come from Pinterest's documented normalization and
types (README "How personal data is normalized before hashing", "What is checked before
sending") and from the modules' own documented contracts, never from incidental output.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from decimal import Decimal

import pytest

from target_pinterest_conversions.conversion import phone
from target_pinterest_conversions.conversion._codegen.typecheck import compile_type_check
from target_pinterest_conversions.conversion.checks import validate_event
from target_pinterest_conversions.conversion.event import (
    build_custom_data,
    build_event,
    custom_converter,
    derive_event_id,
    derive_from_contents,
)
from target_pinterest_conversions.conversion.geo import (
    country_of,
    normalize_country,
    normalize_state,
)
from target_pinterest_conversions.conversion.hashing import digest_memo, hash_value, text_digester
from target_pinterest_conversions.conversion.phone import normalize_phone
from target_pinterest_conversions.conversion.schema import MappedFieldsValidator, guards, schema_at
from target_pinterest_conversions.conversion.text import DroppedValue, is_sha256_hex
from target_pinterest_conversions.conversion.types import (
    EventError,
    to_bool,
    to_decimal_string,
    to_int,
    to_str,
    to_unix_seconds,
)
from target_pinterest_conversions.conversion.user_data import build_user_data, record_country
from target_pinterest_conversions.mapping.spec import RawEvent
from target_pinterest_conversions.mapping.suggest import did_you_mean, nearest, suggest_event_name
from target_pinterest_conversions.pinterest.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_NUMBER_DIGITS,
    InvalidText,
    json_safe,
    mark_invalid_text,
    number_text,
)
from target_pinterest_conversions.pinterest.vocabulary import PINTEREST_EVENT_NAMES, name_key

NOW = 1_800_000_000

# --- suggest: "did you mean" -------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["dryRun", "dry-run", "DRY_RUN", "dry run", "dry.run"])
def test_case_dashes_underscores_spaces_and_dots_do_not_tell_names_apart(spelling):
    assert nearest(spelling, ["batch_size_rows", "dry_run", "dry_run_path"]) == "dry_run"


def test_a_name_equal_but_for_spelling_wins_over_a_closer_looking_one():
    # "dry_run_x" is one letter from "dry-runx" as text, but "dry_run" is the same name.
    assert nearest("Dry-Run", ["dry_run_x", "dry_run"]) == "dry_run"


def test_a_misspelt_name_gives_the_nearest_candidate():
    assert nearest("oders", ["customers", "orders", "products"]) == "orders"
    assert nearest("custmer", ["customers", "orders", "products"]) == "customers"


def test_the_cutoff_says_how_close_is_close_enough():
    # "oders" is 0.91 alike to "orders" (difflib's ratio).
    assert nearest("oders", ["orders"], cutoff=0.9) == "orders"
    assert nearest("oders", ["orders"], cutoff=0.95) is None


def test_nothing_close_gives_no_suggestion():
    assert nearest("zzz", ["orders", "customers"]) is None
    assert nearest("orders", []) is None


def test_did_you_mean_names_the_nearest_or_says_nothing():
    assert did_you_mean("oders", ["orders", "customers"]) == "; did you mean 'orders'?"
    assert did_you_mean("zzz", ["orders", "customers"]) == ""


# --- vocabulary: source event names -------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "Order Completed",
        "order_completed",
        "ORDER-COMPLETED",
        "  order   completed ",
        "order\tcompleted",
    ],
)
def test_event_names_match_whatever_their_case_and_separators(spelling):
    assert name_key(spelling) == name_key("Order Completed") == "order completed"


@pytest.mark.parametrize(
    ("source", "pinterest"),
    [
        ("Purchase", "checkout"),  # Meta
        ("AddToCart", "add_to_cart"),  # Meta, camel case
        ("CompleteRegistration", "signup"),  # Meta, camel case, no spelling alike
        ("begin_checkout", "initiate_checkout"),  # GA4
        ("Order Completed", "checkout"),  # Segment
        ("OrderCompleted", "checkout"),  # Segment, camel case
        ("Product Added to Wishlist", "add_to_wishlist"),  # Segment
        ("Placed Order", "checkout"),  # Converge
        ("PLACED-ORDER", "checkout"),  # Converge, other separators
        ("checkuot", "checkout"),  # a misspelt Pinterest name
        ("Signup", "signup"),  # a Pinterest name in another case
    ],
)
def test_other_vocabularies_suggest_their_pinterest_event(source, pinterest):
    assert pinterest in PINTEREST_EVENT_NAMES
    assert suggest_event_name(source) == pinterest


def test_a_name_like_no_event_suggests_nothing():
    assert suggest_event_name("xyzzy") is None


# --- limits: text and numbers that a request or a file can carry ---------------------------


def test_marked_text_keeps_its_characters():
    text = "caf\u00e9 \ud800"
    marked = mark_invalid_text(text)
    assert isinstance(marked, InvalidText)
    assert marked == text


def test_json_safe_reaches_every_item_of_a_list():
    big = 10**30
    assert json_safe([big, "a\ud800", 7, None, True]) == [str(big), "a\\ud800", 7, None, True]


def test_a_fraction_with_more_whole_digits_than_the_limit_is_not_written():
    # 4301 digits before the point: over the limit, fraction or not.
    over = Decimal("1" + "0" * MAX_NUMBER_DIGITS + ".5")
    assert over.adjusted() == MAX_NUMBER_DIGITS
    assert number_text(over) is None
    under = Decimal("1" + "0" * (MAX_NUMBER_DIGITS - 1) + ".5")
    assert number_text(under) == "1" + "0" * (MAX_NUMBER_DIGITS - 1) + ".5"


# --- privacy: normalization before hashing ------------------------------------------------


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dropped_reason(field: str, value: object, country: str | None = None) -> str:
    with pytest.raises(DroppedValue) as caught:
        hash_value(field, value, country)
    return caught.value.reason


@pytest.mark.parametrize(
    ("field", "value", "normalized"),
    [
        ("ph", 14155550100.0, "14155550100"),  # a whole float has no ".0"
        ("external_id", 42.0, "42"),
        ("external_id", 12.5, "12.5"),
        ("zp", 94107.0, "94107"),
    ],
)
def test_floats_are_written_without_float_noise(field, value, normalized):
    assert hash_value(field, value) == sha(normalized)


class Text(str):
    """Text of a ``str`` subclass, as some decoders give."""


class Count(int):
    """An integer of an ``int`` subclass (an ``IntEnum`` is one)."""


def test_text_of_any_string_class_is_normalized_like_text():
    assert hash_value("em", Text(" \uff35SER@Example.com ")) == sha("user@example.com")
    assert hash_value("fn", Text("Zo\u00eb")) == sha("zo\u00eb")


@pytest.mark.parametrize(
    ("field", "value", "country", "reason"),
    [
        ("ct", "!!!", None, "is empty"),
        ("external_id", "   ", None, "is empty"),
        ("ct", {"a": 1}, None, "is a dict, not text"),
        ("country", "Atlantis", None, "is not a known country name or ISO-3166 code"),
        ("db", "July the fourth", None, "is not a date of birth in a known format"),
        ("ph", "call me", "us", "is not a phone number"),
        ("ph", "123", "us", "is not a possible phone number for its country"),
        ("ph", "12345", None, "is not a phone number (7 to 15 digits expected)"),
        ("st", "\u00cele-de-France", "fr", "has no two-letter state code"),
        ("st", "Narnia", None, "is not a two-letter state code or a known state name"),
    ],
)
def test_a_dropped_value_says_why_without_the_value(field, value, country, reason):
    # The run summary counts dropped values by field and reason (README).
    assert dropped_reason(field, value, country) == reason


def test_a_dropped_value_is_a_value_error_whose_message_is_its_reason():
    error = DroppedValue("is empty")
    assert isinstance(error, ValueError)
    assert str(error) == error.reason == "is empty"


@pytest.mark.parametrize(
    ("digits", "kept"),
    [("123456", False), ("1234567", True), ("123456789012345", True), ("1234567890123456", False)],
)
def test_a_phone_has_7_to_15_digits(digits, kept):
    if kept:
        assert hash_value("ph", digits) == sha(digits)
    else:
        assert dropped_reason("ph", digits) == "is not a phone number (7 to 15 digits expected)"


def test_an_international_number_is_taken_as_written_even_where_phonenumbers_has_no_such_code():
    # "+" keeps the number's own country code: phonenumbers, which knows no +999, is not asked.
    assert hash_value("ph", "+9991234567", "us") == sha("9991234567")
    assert hash_value("ph", "+999 123 4567", "us") == sha("9991234567")


def test_ascii_phones_are_read_without_the_digit_pattern(monkeypatch):
    # The common case's speed: text that is digits already, after one "+" or not, is taken
    # as the pattern would leave it, without running it or the table; other ASCII text
    # loses its non-digits by table (tests/test_normalization.py holds that all of these
    # give the pattern's digits for any text).
    class NoPattern:
        def sub(self, *args):
            raise AssertionError("the digit pattern ran")

    class NoTable(dict):
        def __getitem__(self, code):
            raise AssertionError("the digit table ran")

    monkeypatch.setattr(phone, "_NON_DIGITS", NoPattern())
    monkeypatch.setattr(phone, "_ASCII_DIGITS", NoTable())
    assert normalize_phone(" +14155550100 ") == "14155550100"
    assert normalize_phone("4155550100", "us") == "14155550100"
    assert normalize_phone("00442079460958") == "442079460958"
    monkeypatch.undo()
    monkeypatch.setattr(phone, "_NON_DIGITS", NoPattern())
    assert normalize_phone("+1 (415) 555-0100") == "14155550100"


@pytest.mark.parametrize("value", ["", "   ", "\u3000"])
def test_an_empty_email_is_dropped_as_empty_not_as_no_address(value):
    assert dropped_reason("em", value) == "is empty"


def test_a_national_number_of_any_json_type_gets_the_country_code():
    assert hash_value("ph", 2079460958, "gb") == sha("442079460958")
    assert hash_value("ph", Decimal("2079460958"), "gb") == sha("442079460958")


def test_a_list_of_phones_gets_the_record_country_code():
    data, dropped = build_user_data({"ph": ["020 7946 0958", "07700 900123"], "country": "GB"})
    assert dropped == []
    assert data["ph"] == [sha("442079460958"), sha("447700900123")]


@pytest.mark.parametrize(
    ("country", "code"),
    [
        (["GB"], "gb"),
        (["Atlantis", "United Kingdom"], "gb"),  # the first readable one counts
        ([sha("us"), "GB"], "gb"),  # a pre-hashed country cannot be read: the next one is
        ([None, " ", "Germany"], "de"),
    ],
)
def test_the_record_country_is_read_from_a_list_of_countries(country, code):
    assert record_country({"country": country}) == code
    data, _ = build_user_data({"ph": "030 901820", "country": country}, default_country="US")
    assert data["ph"] == [sha(normalize_phone("030 901820", code))]


def test_the_default_country_is_a_lowercase_code_like_any_other():
    assert record_country({}, "GB") == "gb"
    assert record_country({"country": "Narnia"}, "DE") == "de"
    assert country_of(None, "US") == "us"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Great Britain", "gb"),
        ("South Korea", "kr"),
        ("Czech Republic", "cz"),
        ("U.S.A.", "us"),
        ("united-states", "us"),
    ],
)
def test_country_names_are_matched_whatever_their_spacing_and_punctuation(name, code):
    assert normalize_country(name) == code


@pytest.mark.parametrize(
    ("value", "country", "code"),
    [
        ("DE-BY", None, "by"),  # an ISO-3166-2 code of any country
        ("FR-75", None, None),  # Paris: a code, but not of two letters
        ("Baden-W\u00fcrttemberg", "de", "bw"),  # a name with a dash is a name
        ("Rheinland-Pfalz", "de", "rp"),
    ],
)
def test_state_codes_and_names_with_dashes(value, country, code):
    if code is None:
        with pytest.raises(DroppedValue):
            normalize_state(value, country)
    else:
        assert normalize_state(value, country) == code


def test_only_a_64_hex_digest_passes_through_unhashed():
    not_hex = "x" * 64
    assert hash_value("external_id", not_hex) == sha(not_hex)
    assert is_sha256_hex(sha("a"))
    assert is_sha256_hex(sha("a").upper())
    assert not is_sha256_hex(not_hex)
    assert not is_sha256_hex(sha("a")[:63])


def test_blank_plain_values_are_absent_not_dropped():
    data, dropped = build_user_data(
        {"em": "a@example.com", "client_ip_address": "   ", "click_id": ""}
    )
    assert data == {"em": [sha("a@example.com")]}
    assert dropped == []


def test_the_memo_behind_a_digester_is_one_mapping_of_text_to_digest():
    # The fast path looks values up in the memo and calls the digester for the rest.
    digest = text_digester("ph", "gb")
    memo = digest_memo("ph", "gb")
    assert digest("020 7946 0958") == sha("442079460958")  # the country is the one asked for
    assert memo["020 7946 0958"] == sha("442079460958")
    assert digest_memo("ph", "gb") is memo
    assert text_digester("em")(" A@Example.com") == sha("a@example.com")
    assert digest_memo("em")[" A@Example.com"] == sha("a@example.com")


def test_a_text_found_in_the_memo_is_not_normalized_again():
    # The memo's contract with the fast path: a value found there needs no call, and the
    # digester gives what the memo holds.
    memo = digest_memo("em")
    memo["not an address"] = "remembered"
    try:
        assert text_digester("em")("not an address") == "remembered"
    finally:
        memo.pop("not an address", None)


# --- events: Pinterest's types, reasons that name the field -------------------------------


def raw_event(**kw) -> RawEvent:
    base = dict(
        event_name="checkout",
        action_source="web",
        event_time=NOW,
        event_id="1001",
        user_data={},
        custom_data={},
    )
    return RawEvent(**{**base, **kw})


def event_error(convert, *args) -> str:
    with pytest.raises(EventError) as caught:
        convert(*args)
    return caught.value.reason


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"event_id": "  "}, "event_id is empty"),
        ({"extra": {"opt_out": "maybe"}}, "opt_out is not a boolean"),
        ({"extra": {"partner_name": " "}}, "partner_name is empty"),
        ({"custom_data": {"content_ids": ["a", " "]}}, "custom_data.content_ids is empty"),
        ({"custom_data": {"currency": " "}}, "custom_data.currency is empty"),
        (
            {"custom_data": {"currency": "dollars"}},
            "custom_data.currency is not a three-letter ISO-4217 code",
        ),
        ({"custom_data": {"num_items": "many"}}, "custom_data.num_items is not a number"),
        ({"custom_data": {"order_id": [1]}}, "custom_data.order_id is a list, not text"),
        ({"event_time": [1]}, "event_time is a list, not a time"),
    ],
)
def test_an_event_that_cannot_be_built_names_its_field(kw, reason):
    assert event_error(lambda: build_event(raw_event(**kw), stream="s", key=1)) == reason


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: to_str(True, "order_id"), "order_id is a boolean, not text"),
        (lambda: to_str({"a": 1}, "order_id"), "order_id is a dict, not text"),
        (
            lambda: to_str(Decimal("1E+5000"), "order_id"),
            "order_id is a number of more than 4300 digits",
        ),
        (lambda: to_int({"a": 1}, "quantity"), "quantity is a dict, not a number"),
        (lambda: to_bool("maybe", "wifi"), "wifi is not a boolean"),
    ],
)
def test_a_value_that_cannot_take_its_type_names_its_field_and_kind(call, reason):
    assert event_error(call) == reason


@pytest.mark.parametrize(
    ("key", "value", "typed"),
    [
        ("value", "12.50", "12.5"),
        ("predicted_ltv", 3, "3"),
        ("num_items", " 3 ", 3),
        ("currency", "usd", "USD"),
        ("content_ids", ["a", 7], ["a", "7"]),
        ("content_ids", "sku-1", ["sku-1"]),
        ("order_id", 42, "42"),
        ("content_name", " Shoe ", "Shoe"),
    ],
)
def test_each_custom_data_field_has_its_pinterest_type(key, value, typed):
    assert custom_converter(key)(value) == typed


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("value", "lots", "custom_data.value is not a number"),
        ("num_items", "1.5", "custom_data.num_items is not a whole number"),
        ("currency", "US", "custom_data.currency is not a three-letter ISO-4217 code"),
        ("order_id", "  ", "custom_data.order_id is empty"),
    ],
)
def test_a_custom_data_converter_names_its_field(key, value, reason):
    assert event_error(custom_converter(key), value) == reason


@pytest.mark.parametrize("empty", [[], [None]])
def test_an_empty_content_ids_list_is_left_out(empty):
    assert build_custom_data({"content_ids": empty, "currency": "usd"}) == {"currency": "USD"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, True), (0, False), (Decimal(1), True), (Decimal(0), False), ("yes", True), ("N", False)],
)
def test_booleans_from_0_and_1_and_words(value, expected):
    assert to_bool(value, "opt_out") is expected


def test_values_of_subclasses_of_json_types_take_their_type():
    assert to_int(Count(3), "quantity") == 3
    assert to_decimal_string(Count(5), "value") == "5"
    assert to_str(Text(" a "), "order_id") == "a"
    assert event_error(to_str, Text("  "), "order_id") == "order_id is empty"


@pytest.mark.parametrize("zero", [Decimal("-0"), Decimal("-0.00"), Decimal("0.000"), -0.0])
def test_zero_is_sent_as_0(zero):
    assert to_decimal_string(zero, "value") == "0"


MS_FROM = 100_000_000_000  # 1973 in milliseconds, year 5138 in seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),  # the epoch is a time (the 7-day rule refuses it later, with its reason)
        (Decimal("0.5"), 0),
        (MS_FROM - 1, MS_FROM - 1),  # seconds below the threshold
        (MS_FROM, MS_FROM // 1000),  # milliseconds from it on
    ],
)
def test_epoch_seconds_and_milliseconds(value, seconds):
    assert to_unix_seconds(value) == seconds


@pytest.fixture
def local_time_not_utc(monkeypatch):
    """Run in a time zone far from UTC, so that a naive time read as local time shows."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is Unix only")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_not_utc")
@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T10:00:00",
        "2026-11-20 10:00:00",
        dt.datetime(2026, 11, 20, 10, 0),
    ],
)
def test_naive_times_are_utc_whatever_the_local_time_zone(value):
    assert to_unix_seconds(value) == int(
        dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc).timestamp()
    )


@pytest.mark.usefixtures("local_time_not_utc")
def test_a_date_is_its_midnight_utc_whatever_the_local_time_zone():
    midnight = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    assert to_unix_seconds(dt.date(2026, 11, 20)) == int(midnight.timestamp())


def test_the_sum_of_quantities_may_reach_either_end_of_int64():
    for quantity in (INT64_MIN, INT64_MAX):
        custom_data = {"contents": [{"id": "a", "quantity": quantity}]}
        derive_from_contents(custom_data)
        assert custom_data["num_items"] == quantity


def test_a_sum_of_quantities_beyond_int64_is_refused_with_its_reason():
    custom_data = {"contents": [{"quantity": INT64_MAX}, {"quantity": 1}]}
    assert event_error(derive_from_contents, custom_data) == (
        "custom_data.num_items, the sum of the contents' quantities, is out of range "
        "(Pinterest takes a 64-bit integer)"
    )


def test_keys_that_are_not_finite_numbers_give_different_event_ids():
    ids = {derive_event_id("s", key, "checkout") for key in (Decimal("NaN"), Decimal("Inf"))}
    ids.add(derive_event_id("s", Decimal("-Inf"), "checkout"))
    assert len(ids) == 3


# --- validation: the rules before sending -------------------------------------------------


def full_event(**kw):
    base = {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": NOW - 60,
        "event_id": "1",
        "user_data": {"em": ["x" * 64]},
    }
    return {**base, **kw}


NO_MATCH_KEY = (
    "user_data has no match key: needs em, hashed_maids, "
    "or both client_ip_address and client_user_agent"
)


@pytest.mark.parametrize("one", [{"client_ip_address": "1.2.3.4"}, {"client_user_agent": "UA"}])
def test_an_ip_address_or_a_user_agent_alone_is_no_match_key(one):
    assert validate_event(full_event(user_data=one), NOW) == [NO_MATCH_KEY]


@pytest.mark.parametrize("event_time", [NOW, NOW - 7 * 86_400])
def test_the_time_window_includes_now_and_exactly_7_days_ago(event_time):
    # With another rule broken, every rule is examined: the time is not among the reasons.
    event = full_event(event_time=event_time, user_data={"ph": ["x" * 64]})
    assert validate_event(event, NOW) == [NO_MATCH_KEY]


def obj(**properties) -> dict:
    return {"type": "object", "properties": properties}


def schema_errors(schema, paths, record, **kw) -> list[str]:
    return MappedFieldsValidator(schema, paths).errors(record, **kw)


@pytest.mark.parametrize(
    ("combinator", "options"),
    [
        ("anyOf", [{"type": "string"}, {"type": "null"}]),
        ("oneOf", [{"type": "string"}, {"type": "null"}]),
        ("allOf", [{"type": "string"}, {"maxLength": 9}]),
    ],
)
def test_combinators_on_a_mapped_field_are_checked(combinator, options):
    schema = obj(a={combinator: options})
    assert schema_errors(schema, ["a"], {"a": "ok"}) == []
    assert schema_errors(schema, ["a"], {"a": 5}) != []


def test_combinators_are_checked_along_the_mapped_path_below_them():
    schema = obj(a={"anyOf": [obj(b={"type": "string"}), {"type": "null"}]})
    assert schema_errors(schema, ["a.b"], {"a": {"b": "x"}}) == []
    assert schema_errors(schema, ["a.b"], {"a": {"b": 5}}) != []


def test_an_item_path_on_a_single_object_checks_that_object():
    # contents.from may name one object, read as a list of one.
    schema = obj(item=obj(price={"type": "number"}, sku={"type": "string"}))
    paths = ["item.[].price", "item.sku"]
    assert schema_errors(schema, paths, {"item": {"price": 1, "sku": "a"}}) == []
    assert schema_errors(schema, paths, {"item": {"price": "x", "sku": "a"}}) != []
    assert schema_errors(schema, paths, {"item": {"price": 1, "sku": 2}}) != []


def test_every_mapped_path_into_list_items_is_checked():
    schema = obj(lines={"type": "array", "items": obj(o=obj(x={"type": "string"}, y={}))})
    paths = ["lines.[].o.x", "lines.0.o.y"]
    assert schema_errors(schema, paths, {"lines": [{"o": {"x": "a"}}]}) == []
    assert schema_errors(schema, paths, {"lines": [{"o": {"x": 1}}]}) != []


def test_a_false_subschema_admits_nothing():
    assert schema_errors(obj(a=False), ["a"], {"a": 1}) != []


def test_a_schema_without_its_draft_is_read_as_draft_7():
    # ``dependencies`` is a draft-7 keyword, left out of later drafts.
    schema = {**obj(a={"type": "integer"}, b={}), "dependencies": {"a": ["b"]}}
    assert schema_errors(schema, ["a"], {"a": 1, "b": 2}) == []
    assert schema_errors(schema, ["a"], {"a": 1}) != []


@pytest.mark.parametrize(
    ("node", "value", "rule"),
    [
        ({"type": "string"}, 5, "type: string"),
        ({"enum": ["a", "b"]}, "c", "enum: ['a', 'b']"),
        ({"minimum": 1}, 0, "minimum: 1"),
        ({"maximum": 1}, 2, "maximum: 1"),
        ({"maxLength": 2}, "abc", "maxLength: 2"),
        ({"minLength": 2}, "a", "minLength: 2"),
        ({"pattern": "^a"}, "b", "pattern: ^a"),
        ({"const": "a"}, "b", "const: see schema"),
    ],
)
def test_a_schema_error_names_the_field_and_the_rule_never_the_value(node, value, rule):
    assert schema_errors(obj(field=node), ["field"], {"field": value}) == [
        f"field 'field' does not match the stream schema ({rule})"
    ]


def test_a_record_that_is_not_an_object_is_named_record():
    assert schema_errors(obj(a={"type": "string"}), ["a"], []) == [
        "field 'record' does not match the stream schema (type: object)"
    ]


def test_at_most_limit_schema_errors_are_given():
    schema = obj(a={"type": "string"}, b={"type": "string"}, c={"type": "string"})
    record = {"a": 1, "b": 2, "c": 3}
    assert len(schema_errors(schema, ["a", "b", "c"], record, limit=2)) == 2
    assert len(schema_errors(schema, ["a", "b", "c"], record, limit=3)) == 3


def test_the_type_schema_is_given_only_when_the_paths_constrain_types_alone():
    assert MappedFieldsValidator(obj(a={"type": "string"}), ["a"]).type_schema is not None
    assert MappedFieldsValidator(obj(a={"enum": ["x"]}), ["a"]).type_schema is None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": [{"type": "string"}]},  # items by position
        {"type": "array", "items": {"type": "string", "enum": ["a"]}},
        obj(a={"type": "string", "maxLength": 1}),
    ],
)
def test_a_type_check_is_compiled_only_for_schemas_of_types_alone(schema):
    assert compile_type_check(schema) is None


SHAPE = obj(
    customer=obj(email={"type": ["string", "null"]}),
    lines={"type": "array", "items": obj(price={"type": "number"})},
    single=obj(price={"type": "integer"}),
)


@pytest.mark.parametrize(
    ("path", "node"),
    [
        (["customer", "email"], {"type": ["string", "null"]}),
        (["lines", "[]", "price"], {"type": "number"}),
        (["single", "[]", "price"], {"type": "integer"}),  # one object read as a list of one
        (["customer", "phone"], True),  # not described: anything goes
        (["customer", "[]"], SHAPE["properties"]["customer"]),
        (["customer", "email", "x"], True),
        (["nothing", "x"], True),
    ],
)
def test_schema_at_finds_the_node_a_path_is_checked_against(path, node):
    assert schema_at(SHAPE, path) == node


def test_schema_at_a_path_below_a_boolean_schema_is_that_schema():
    assert schema_at(obj(a=False), ["a", "b"]) is False
    assert schema_at({"type": "array"}, ["[]", "b"]) is True


def test_guards_give_the_classes_admitted_along_a_path():
    classes = guards(SHAPE)
    assert set(classes(["customer", "email"])) == {str, type(None)}
    assert set(classes(["single", "[]", "price"])) == {int}
    assert classes(["customer", "phone"]) is None
