"""``skip_when``: conditions parsed with messages naming the setting, and how they hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from target_pinterest_conversions.conversion.rules import skip_reason
from target_pinterest_conversions.mapping.binding import MappingSchemaError, bind_mapping
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.mapping.spec import MappingConfigError

A_PRESENT = {"path": "a", "is": "present"}
B_PRESENT = {"path": "b", "is": "present"}
BASE = {"event_name": "checkout", "action_source": "web", "event_time": "t"}


def _rule(skip_when):
    mapping = parse_stream_mapping("s", {**BASE, "skip_when": skip_when})
    assert mapping.skip_when is not None
    return skip_reason(mapping.skip_when)


@pytest.mark.parametrize(
    ("condition", "record", "holds"),
    [
        ({"path": "test", "equals": True}, {"test": True}, True),
        ({"path": "test", "equals": True}, {"test": 1}, False),  # a boolean equals a boolean
        ({"path": "test", "equals": True}, {"test": "true"}, False),
        ({"path": "test", "equals": True}, {}, False),
        ({"path": "n", "equals": 2}, {"n": Decimal("2.0")}, True),
        ({"path": "n", "equals": 2}, {"n": "2"}, False),
        ({"path": "n", "equals": None}, {}, True),
        ({"path": "a.b", "equals": "x"}, {"a": {"b": "x"}}, True),
        ({"path": "s", "in": ["pos", "draft"]}, {"s": "pos"}, True),
        ({"path": "s", "in": ["pos", "draft"]}, {"s": "POS"}, False),
        ({"path": "s", "not_in": ["web"]}, {"s": "pos"}, True),
        ({"path": "s", "not_in": ["web"]}, {"s": "web"}, False),
        ({"path": "c", "is": "present"}, {"c": "2026-01-01"}, True),
        ({"path": "c", "is": "present"}, {"c": "  "}, False),
        ({"path": "c", "is": "present"}, {"c": []}, False),
        ({"path": "c", "is": "absent"}, {}, True),
        ({"path": "c", "is": "absent"}, {"c": 0}, False),
        ({"path": "c", "is": "truthy"}, {"c": "no"}, True),
        ({"path": "c", "is": "truthy"}, {"c": 0}, False),
        ({"path": "c", "is": "truthy"}, {"c": Decimal("0.0")}, False),
        ({"path": "c", "is": "truthy"}, {"c": False}, False),
        ({"path": "c", "is": "falsy"}, {"c": None}, True),
        ({"path": "c", "is": "falsy"}, {"c": {"k": 1}}, False),
        (
            {"any_of": [{"path": "a", "is": "present"}, {"path": "b", "is": "present"}]},
            {"b": 1},
            True,
        ),
        (
            {"all_of": [{"path": "a", "is": "present"}, {"path": "b", "is": "present"}]},
            {"b": 1},
            False,
        ),
        (
            {"all_of": [{"path": "a", "is": "present"}, {"path": "b", "is": "present"}]},
            {"a": 1, "b": 1},
            True,
        ),
    ],
)
def test_a_condition_holds_as_documented(condition, record, holds):
    reason = _rule(condition)(record)
    assert (reason is not None) is holds


def test_the_reason_names_the_first_condition_that_holds():
    rule = _rule([{"path": "test", "equals": True}, {"path": "s", "in": ["pos", "x"]}])
    assert rule({"s": "pos"}) == 'skip_when: s in ["pos", "x"]'
    assert rule({"s": "pos", "test": True}) == "skip_when: test equals true"
    nested = _rule({"any_of": [{"path": "a", "is": "present"}, {"path": "b", "equals": 0}]})
    assert nested({"b": 0}) == "skip_when: (a is present or b equals 0)"


def test_an_empty_list_skips_nothing():
    assert parse_stream_mapping("s", {**BASE, "skip_when": []}).skip_when is None


@pytest.mark.parametrize(
    ("skip_when", "message"),
    [
        ("test", r"streams\.s\.skip_when\[0\]: expected a condition object"),
        ({"path": "a"}, r"skip_when\[0\]: expected"),
        ({"path": "a", "equals": 1, "in": [1]}, r"skip_when\[0\]: expected"),
        ({"path": "a", "equal": 1}, r"skip_when\[0\]: expected"),
        ({"path": 3, "equals": 1}, r"skip_when\[0\]\.path: expected a dotted path"),
        ({"path": "a", "is": "there"}, r"skip_when\[0\]\.is: expected one of present"),
        ({"path": "a", "in": "pos"}, r"skip_when\[0\]\.in: expected a list of values"),
        ({"path": "a", "equals": [1]}, r"skip_when\[0\]\.equals: expected a text"),
        ({"any_of": []}, r"skip_when\[0\]\.any_of: expected a non-empty list"),
        ({"all_of": [{"path": "a"}]}, r"skip_when\[0\]\.all_of\[0\]: expected"),
        ({"path": "a..b", "equals": 1}, r"skip_when\[0\]\.path: 'a\.\.b' is not a valid"),
    ],
)
def test_a_malformed_condition_names_its_setting(skip_when, message):
    with pytest.raises(MappingConfigError, match=message):
        parse_stream_mapping("s", {**BASE, "skip_when": skip_when})


SCHEMA = {"type": "object", "properties": {"t": {"type": "string"}, "test": {"type": "boolean"}}}


def test_a_user_condition_on_a_field_the_schema_lacks_is_an_error():
    mapping = parse_stream_mapping("s", {**BASE, "skip_when": {"path": "tset", "equals": True}})
    with pytest.raises(MappingSchemaError, match=r"streams\.s\.skip_when: .*'tset'.*test"):
        bind_mapping(mapping, SCHEMA)


def test_a_preset_condition_on_a_field_the_schema_lacks_is_dropped():
    mapping = parse_stream_mapping("s", {"preset": "tap-shopify/orders"})
    schema = {"type": "object", "properties": {"createdAt": {"type": "string"}}}
    bound, dropped = bind_mapping(mapping, schema)
    assert bound.skip_when is None
    assert "streams.s.skip_when (test)" in dropped


def test_reasons_spell_each_operator_and_combination():
    rule = _rule(
        [
            {"all_of": [A_PRESENT, B_PRESENT]},
            {"path": "s", "not_in": ["web", 1, None, True]},
            {"path": "c", "equals": "x"},
        ]
    )
    assert rule({"a": 1, "b": 2}) == "skip_when: (a is present and b is present)"
    assert rule({"s": "pos"}) == 'skip_when: s not in ["web", 1, null, true]'
    assert rule({"s": "web", "c": "x"}) == 'skip_when: c equals "x"'


@pytest.mark.parametrize(
    ("value", "truthy"), [(True, True), (5, True), (Decimal("-1"), True), ("0", True), (0.0, False)]
)
def test_truthy_is_present_and_not_false_or_zero(value, truthy):
    assert (_rule({"path": "c", "is": "truthy"})({"c": value}) is not None) is truthy


@pytest.mark.parametrize(
    ("skip_when", "message"),
    [
        (
            {"path": "a", "equals": 1, "note": "x"},
            r'skip_when\[0\]: expected \{"path": \.\.\., <one of equals, in, not_in, is>: '
            r"\.\.\.\}, or any_of / all_of$",
        ),
        ({"any_of": [A_PRESENT], "path": "a"}, r"skip_when\[0\]\.any_of: expected a non-empty"),
        ({"all_of": A_PRESENT}, r"skip_when\[0\]\.all_of: expected a non-empty list"),
        ({"path": "a", "is": "set"}, r"\.is: expected one of present, absent, truthy, falsy$"),
        ({"path": "a", "not_in": "web"}, r"\.not_in: expected a list of values$"),
        ({"path": "a", "in": [{"x": 1}]}, r"\.in: expected a list of values$"),
    ],
)
def test_each_malformed_form_is_refused_with_its_message(skip_when, message):
    with pytest.raises(MappingConfigError, match=message):
        parse_stream_mapping("s", {**BASE, "skip_when": skip_when})


def test_combined_conditions_give_their_paths_to_the_schema_check():
    mapping = parse_stream_mapping(
        "s", {**BASE, "skip_when": {"any_of": [A_PRESENT, {"all_of": [B_PRESENT]}]}}
    )
    paths = {path for setting, path in mapping.record_paths() if setting.endswith("skip_when")}
    assert paths == {"a", "b"}
