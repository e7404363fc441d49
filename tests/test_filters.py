"""``skip_when``: conditions parsed with messages naming the setting, and how they hold."""

from __future__ import annotations

import time
from decimal import Decimal
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion._codegen.fastpath import compile_fast_path
from target_pinterest_conversions.conversion.pipeline import convert_record
from target_pinterest_conversions.conversion.rules import (
    _same,
    condition_test,
    skip_reason,
    value_test,
)
from target_pinterest_conversions.conversion.schema import MappedFieldsValidator
from target_pinterest_conversions.conversion.values import is_empty
from target_pinterest_conversions.mapping.binding import MappingSchemaError, bind_mapping
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.mapping.spec import MappingConfigError
from target_pinterest_conversions.pinterest.limits import InvalidText

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


VALUES = [None, True, False, 0, 1, 2, Decimal("2.0"), Decimal("0"), 2.0, 0.0, "", "  ", "x"]
VALUES += ["pos", "POS", "web", "true", "1", "2", [], ["x"], {}, {"k": 1}, InvalidText("x\ud800")]
OPERANDS = [True, False, None, "x", "pos", "1", 2, 0, 1, 2.5, 2.0, 0.0]


def _holds(operator, operand, value):
    if operator == "equals":
        return _same(value, operand)
    found = any(_same(value, option) for option in operand)
    return found if operator == "in" else not found


def test_a_field_condition_is_one_rule_however_its_field_is_read():
    """value_test (what the fast path calls, given the value it read) agrees with _same, and
    with condition_test, which reads the field itself (an empty value reads as None).
    Every operand against every value: True against 1 and False against 0 included."""
    specs = [("equals", operand) for operand in OPERANDS]
    specs += [(op, list(pair)) for op in ("in", "not_in") for pair in combinations(OPERANDS, 2)]
    for operator, argument in specs:
        spec = {"path": "c", operator: argument}
        (condition,) = parse_stream_mapping("s", {**BASE, "skip_when": spec}).skip_when.conditions
        test, by_record = value_test(condition), condition_test(condition)
        for value in VALUES:
            read = None if is_empty(value) else value
            assert test(value) is _holds(operator, argument, value), (spec, value)
            assert by_record({"c": value}) is _holds(operator, argument, read), (spec, value)


SKIP_WHEN = [
    {"path": "test", "equals": True},
    {"path": "kind", "in": ["pos"]},
    {"path": "kind", "not_in": ["web", "pos", "draft"]},  # holds for an absent kind
    {"path": "n", "equals": 2},
    {"path": "gone", "is": "present"},
    {"any_of": [{"path": "a", "equals": "x"}, {"all_of": [A_PRESENT, B_PRESENT]}]},
]
SKIP_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "t": {"type": "string"},
        "em": {"type": "string"},
        "test": {"type": ["boolean", "null"]},
        "kind": {"type": ["string", "null"]},
        "n": {"type": ["number", "null"]},
        "gone": {"type": ["string", "null"]},
        "a": {"type": ["string", "null"]},
        "b": {"type": ["string", "null"]},
    },
}


FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "test": st.sampled_from([True, False, None]),
        "kind": st.sampled_from(["pos", "web", "draft", None]),
        "n": st.sampled_from([2, Decimal("2.0"), Decimal("2.5"), None]),
        "gone": st.sampled_from(["", "  ", "y", None]),
        "a": st.sampled_from(["x", "y", None]),
        "b": st.sampled_from(["z", "", None]),
    },
)


@pytest.mark.parametrize("checked", [False, True], ids=["unchecked", "schema-checked"])
def test_the_fast_path_skips_exactly_what_the_full_pipeline_skips(checked):
    """Every record here is valid but for skip_when: the fast path must step aside
    (return None) for each record the full pipeline skips, and build the others."""
    spec = {**BASE, "event_time": "t", "user_data": {"em": "em"}, "skip_when": SKIP_WHEN}
    mapping, _ = bind_mapping(parse_stream_mapping("s", spec), SKIP_SCHEMA)
    paths = [path for _, path in mapping.record_paths()]
    types = MappedFieldsValidator(SKIP_SCHEMA, paths).type_schema if checked else None
    fast = compile_fast_path(mapping, types=types)
    assert fast is not None
    now = int(time.time())
    reach = {"events": 0, "skipped": 0}

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(fields=FIELDS)
    def check(fields):
        record = {"id": "r1", "t": str(now - 60), "em": "a@example.com", **fields}
        (conversion,) = convert_record(record, mapping, key_properties=["id"], now=now)
        event = fast(record, {"id": "r1"}, now)
        assert (event is None) is conversion.skipped, (record, conversion.reasons)
        if event is not None:
            assert event == conversion.event
            reach["events"] += 1
        else:
            reach["skipped"] += 1

    check()
    # Both outcomes are compared, not one: measured 19 events and 181 skips of 200.
    assert reach["events"] >= 10, reach
    assert reach["skipped"] >= 10, reach
