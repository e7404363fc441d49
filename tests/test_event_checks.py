"""Checks before sending (conversion.checks; the record check is conversion.schema)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from target_pinterest_conversions.conversion import checks
from target_pinterest_conversions.conversion._codegen.typecheck import compile_type_check
from target_pinterest_conversions.conversion.checks import has_match_key, validate_event
from target_pinterest_conversions.conversion.schema import MappedFieldsValidator, prune_schema

NOW = 1_800_000_000
API_WINDOW = 7 * 86_400
"""Pinterest's 7 days, stated here rather than taken from checks: a changed window fails."""


def event(**kw):
    base = {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": NOW - 60,
        "event_id": "1",
        "user_data": {"em": ["x" * 64]},
    }
    return {**base, **kw}


def test_a_valid_event_passes():
    assert validate_event(event(), NOW) == []


@pytest.mark.parametrize(
    "missing", ["event_name", "action_source", "event_time", "event_id", "user_data"]
)
def test_required_fields(missing):
    e = event()
    del e[missing]
    assert validate_event(e, NOW) == [f"{missing} is missing"]


@pytest.mark.parametrize(
    ("user_data", "ok"),
    [
        ({"em": ["h"]}, True),
        ({"hashed_maids": ["h"]}, True),
        ({"client_ip_address": "1.2.3.4", "client_user_agent": "UA"}, True),
        ({"client_ip_address": "1.2.3.4"}, False),
        ({"client_user_agent": "UA"}, False),
        ({"ph": ["h"], "external_id": ["h"], "fn": ["h"]}, False),
        ({}, False),
    ],
)
def test_match_key_rule(user_data, ok):
    assert has_match_key(user_data) is ok


def test_time_window():
    assert validate_event(event(event_time=NOW + 1), NOW) == ["event_time is in the future"]
    assert validate_event(event(event_time=NOW), NOW) == []
    assert validate_event(event(event_time=NOW - API_WINDOW), NOW) == []
    assert validate_event(event(event_time=NOW - API_WINDOW - 1), NOW) == [
        "event_time is more than 7 days old: the API takes 7 days; output: csv takes 28"
    ]


def test_action_source():
    assert validate_event(event(action_source="email"), NOW) == [
        "action_source is not one of web, app_android, app_ios, offline"
    ]


FIELD_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "x", "checkout", "web", "offline", "email", 0, False, [], {}]),
    st.sampled_from([NOW, NOW + 1, NOW - API_WINDOW, NOW - API_WINDOW - 1]),
    st.sampled_from([True, 1.5, Decimal("1")]),
)
USER_DATA = st.one_of(
    st.none(),
    st.just(""),
    st.dictionaries(
        st.sampled_from(["em", "hashed_maids", "client_ip_address", "client_user_agent", "ph"]),
        st.sampled_from([["x" * 64], [], "", "1.2.3.4", None]),
    ),
)


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "event_name": FIELD_VALUES,
            "action_source": FIELD_VALUES,
            "event_time": FIELD_VALUES,
            "event_id": FIELD_VALUES,
            "user_data": USER_DATA,
        },
    )
)
def test_the_quick_verdict_agrees_with_the_rules(candidate):
    # validate_event settles the usual valid event in one expression; whatever it
    # accepts, the rules one by one accept too, and it defers everything else to them.
    try:
        expected = checks._reasons(candidate, NOW)
    except (KeyError, TypeError):
        # The rules cannot be applied to it: the quick verdict must not accept it.
        with pytest.raises((KeyError, TypeError)):
            validate_event(candidate, NOW)
        return
    assert validate_event(candidate, NOW) == expected


SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": ["null", "string"]},
        "unmapped": {"type": "integer"},
        "lines": {
            "type": ["null", "array"],
            "items": {
                "type": "object",
                "properties": {"qty": {"type": "number"}, "other": {"type": "boolean"}},
            },
        },
        "created": {"type": "string", "format": "date-time"},
    },
}


def test_only_mapped_paths_are_validated_and_reasons_hold_no_values():
    validator = MappedFieldsValidator(SCHEMA, ["email", "lines.[].qty", "created"])
    good = {
        "email": "a@example.com",
        "unmapped": "not an int",
        "lines": [{"qty": 1, "other": "x"}],
        "created": "nope",
    }
    assert validator.errors(good) == []
    bad = {"email": 42, "lines": [{"qty": "many"}]}
    reasons = validator.errors(bad)
    assert reasons == [
        "field 'email' does not match the stream schema (type: ['null', 'string'])",
        "field 'lines.0.qty' does not match the stream schema (type: number)",
    ]
    assert "many" not in " ".join(reasons)


def test_prune_schema_keeps_only_the_tree():
    pruned = prune_schema(SCHEMA, {"lines": {"[]": {"qty": {}}}})
    assert pruned == {
        "type": "object",
        "properties": {
            "lines": {
                "type": ["null", "array"],
                "items": {"type": "object", "properties": {"qty": {"type": "number"}}},
            }
        },
    }


TYPED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "an annotation, not a constraint"},
        "n": {"type": ["null", "integer"]},
        "amount": {"type": ["null", "number"]},
        "flag": {"type": "boolean"},
        "customer": {
            "type": ["null", "object"],
            "properties": {"email": {"type": ["null", "string"]}, "any": {}},
        },
        "lines": {
            "type": ["null", "array"],
            "items": {"type": "object", "properties": {"q": {"type": "integer"}}},
        },
    },
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["email", "any", "q", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)
records = st.dictionaries(
    st.sampled_from(["id", "n", "amount", "flag", "customer", "lines", "other"]),
    values,
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(records)
def test_type_check_never_passes_what_jsonschema_rejects(record):
    check = compile_type_check(TYPED_SCHEMA)
    assert check is not None
    if check(record):
        assert list(Draft7Validator(TYPED_SCHEMA).iter_errors(record)) == []


def test_type_check_passes_what_taps_emit_and_fails_the_rest():
    check = compile_type_check(TYPED_SCHEMA)
    good = {
        "id": "1",
        "n": None,
        "amount": Decimal("1.5"),
        "flag": True,
        "customer": {"email": "a@b.co", "any": [1]},
        "lines": [{"q": 2}, {}],
        "unmapped": object(),
    }
    assert check(good)
    assert not check({**good, "n": True})  # a boolean is not an integer
    assert not check({**good, "id": 1})
    assert not check({**good, "lines": [{"q": "2"}]})
    assert not check({**good, "customer": "a@b.co"})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "enum": ["a"]},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}},
        {"type": "custom"},
    ],
)
def test_type_check_declines_other_constraints(schema):
    assert compile_type_check(schema) is None


# Hostile values against schemas that do more than set types.

HOSTILE = [
    float("nan"),
    float("inf"),
    float("-inf"),
    Decimal("1E+999999"),
    Decimal("-1E+999999999999"),
    Decimal("1E-999999"),
    2**64,
    10**4000,
    True,
    "\ud800",
    Decimal("12.34"),
    7,
]
BOUNDED_LEAVES = [
    {"type": ["null", "number"], "multipleOf": 0.01},
    {"type": "number", "multipleOf": Decimal("1E-38")},
    {"type": ["null", "integer"], "multipleOf": 1},
    {"type": "number", "minimum": 0, "maximum": Decimal("1E+10")},
    {"type": "number", "exclusiveMinimum": Decimal("0.5")},
    {"enum": [1, Decimal("1.5"), "a"]},
    {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
    {"anyOf": [{"type": "integer", "maximum": 5}, {"type": "string"}]},
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(BOUNDED_LEAVES), st.sampled_from(HOSTILE))
def test_the_mapped_field_check_gives_a_verdict_never_an_error(leaf, value):
    schema = {"type": "object", "properties": {"amount": leaf}}
    validator = MappedFieldsValidator(schema, ["amount"])
    reasons = validator.errors({"amount": value})
    assert all(r.startswith(("field 'amount'", "a mapped field")) for r in reasons)


def test_multiple_of_is_not_checked():
    # A tap's precision (tap-postgres writes multipleOf for numeric columns): no event
    # depends on it, and both validators raise on it with the Decimals taps' numbers are.
    schema = {
        "type": "object",
        "properties": {"amount": {"type": ["null", "number"], "multipleOf": 0.01}},
    }
    validator = MappedFieldsValidator(schema, ["amount"])
    assert validator.type_schema is not None  # types only once pruned: the fast path checks
    for value in (Decimal("12.34"), Decimal("12.345"), Decimal("1E+999999"), 7):
        assert validator.errors({"amount": value}) == []
    assert validator.errors({"amount": "12.34"}) != []


def test_a_rule_that_cannot_be_computed_refuses_the_record_with_a_reason(monkeypatch):
    validator = MappedFieldsValidator(
        {"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}}, ["amount"]
    )

    def explode(record):
        raise ArithmeticError

    class Exploding:
        iter_errors = staticmethod(explode)

    monkeypatch.setattr(validator, "_certainly_valid", None)
    monkeypatch.setattr(validator, "_fast", explode)
    monkeypatch.setattr(validator, "_validator", Exploding())
    assert validator.errors({"amount": 1}) == [
        "a mapped field could not be checked against the stream schema (ArithmeticError)"
    ]


def _valid(**user_data: str) -> dict:
    return {
        "event_name": "checkout",
        "action_source": "app_ios",
        "event_time": NOW - 7 * 24 * 3600,  # the oldest time still taken
        "event_id": "e1",
        "user_data": user_data,
    }


@pytest.mark.parametrize(
    "event",
    [
        _valid(em=["a" * 64]),
        _valid(hashed_maids=["b" * 64]),
        _valid(client_ip_address="203.0.113.9", client_user_agent="UA"),
        {**_valid(em=["a" * 64]), "event_time": NOW, "action_source": "offline"},
        {**_valid(em=["a" * 64]), "action_source": "web"},
        {**_valid(em=["a" * 64]), "action_source": "app_android"},
    ],
)
def test_the_usual_valid_event_is_settled_without_the_rule_by_rule_check(monkeypatch, event):
    # The one expression is the speed of every event; the rules behind it decide the rest.
    def slow(*_: object) -> list[str]:
        raise AssertionError("a valid event went to the rule-by-rule check")

    monkeypatch.setattr(checks, "_reasons", slow)
    assert checks.validate_event(event, NOW) == []


DAY = 24 * 3600


@pytest.mark.parametrize(
    "event",
    [
        {**_valid(em=["a" * 64]), "event_time": NOW - 28 * DAY},  # the oldest the CSV takes
        {**_valid(hashed_maids=["b" * 64]), "event_time": NOW - 20 * DAY},
    ],
)
def test_the_usual_csv_row_is_settled_without_the_rule_by_rule_check(monkeypatch, event):
    def slow(*_: object) -> list[str]:
        raise AssertionError("a valid CSV event went to the rule-by-rule check")

    monkeypatch.setattr(checks, "_reasons", slow)
    assert checks.validate_event(event, NOW, "csv") == []


@pytest.mark.parametrize(
    ("change", "output", "reasons"),
    [
        ({"event_time": NOW - 8 * DAY}, "api", [checks.TOO_OLD["api"]]),
        ({"event_time": NOW - 8 * DAY}, "csv", []),
        ({"event_time": NOW - 29 * DAY}, "csv", [checks.TOO_OLD["csv"]]),  # 2 kept to upload
        (
            {"user_data": {"client_ip_address": "203.0.113.9", "client_user_agent": "UA"}},
            "csv",
            [checks.CSV_NO_MATCH_KEY],
        ),
        (
            {"user_data": {"client_ip_address": "203.0.113.9", "client_user_agent": "UA"}},
            "api",
            [],
        ),
        (
            {"event_name": "lead"},
            "csv",
            [
                "event_name 'lead': output: csv writes checkout events only (the one "
                "event_type Pinterest's CSV specification spells out)"
            ],
        ),
        ({"event_name": "lead"}, "api", []),
    ],
)
def test_each_output_has_its_window_and_the_csv_its_own_rules(change, output, reasons):
    event = {**_valid(em=["a" * 64]), "event_time": NOW - DAY, **change}
    assert checks.validate_event(event, NOW, output) == reasons
    assert checks._reasons(event, NOW, output) == reasons


def test_the_csv_match_key_is_an_email_or_a_mobile_ad_id():
    assert checks.has_csv_match_key({"em": ["a"]})
    assert checks.has_csv_match_key({"hashed_maids": ["b"]})
    assert not checks.has_csv_match_key({"client_ip_address": "x", "client_user_agent": "y"})
    assert not checks.has_csv_match_key({"em": [], "hashed_maids": []})
