"""One definition of "no value" and of "one value or a list", and their inline forms."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion.values import (
    NEVER_EMPTY,
    as_list,
    as_list_code,
    code_names,
    container_present_code,
    is_blank,
    is_empty,
    number_present_code,
    present_code,
    text_present_code,
)
from target_pinterest_conversions.pinterest.limits import InvalidText
from tests.cli import run_target

values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.decimals(allow_nan=False),
        st.text(alphabet=st.sampled_from(" \t\n\u00a0\u2003ab@"), max_size=6),
        st.text(max_size=6),
        st.text(max_size=4).map(InvalidText),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=3), children, max_size=2),
    ),
    max_leaves=6,
)


def _compile(expression: str):
    namespace = code_names()
    exec(f"def f(x):\n    return bool({expression})", namespace)  # noqa: S102 - our own code
    return namespace["f"]


PRESENT = _compile(present_code("x"))
TEXT_PRESENT = _compile(text_present_code("x"))
NUMBER_PRESENT = _compile(number_present_code("x"))
CONTAINER_PRESENT = _compile(container_present_code("x"))


@settings(max_examples=1000)
@given(values)
def test_the_inline_form_of_present_is_not_is_empty(value):
    assert PRESENT(value) is (not is_empty(value))


@settings(max_examples=500)
@given(st.one_of(st.none(), st.text(alphabet=st.sampled_from(" \t\u3000x"), max_size=5)))
def test_the_text_inline_form_agrees_for_text_and_none(value):
    assert TEXT_PRESENT(value) is (not is_empty(value))


@settings(max_examples=500)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.decimals()))
def test_the_number_inline_form_agrees_for_numbers_and_none(value):
    assert value is None or type(value) in NEVER_EMPTY
    assert NUMBER_PRESENT(value) is (not is_empty(value))


@settings(max_examples=500)
@given(values.filter(lambda v: v is None or type(v) in (list, dict)))
def test_the_container_inline_form_agrees_for_lists_objects_and_none(value):
    assert CONTAINER_PRESENT(value) is (not is_empty(value))


@settings(max_examples=500)
@given(values.filter(lambda v: v is not None))
def test_the_inline_as_list_is_as_list(value):
    namespace = code_names()
    exec(f"def f(arr):\n    {as_list_code('arr')}\n    return arr", namespace)  # noqa: S102
    assert namespace["f"](value) == as_list(value)


def test_what_counts_as_empty():
    for empty in (None, "", " ", "\t\n", "\u00a0", [], {}, ()):
        assert is_empty(empty), repr(empty)
    for given_value in ("a", " a ", 0, 0.0, False, Decimal(0), [None], [""], {"a": None}):
        assert not is_empty(given_value), repr(given_value)
    assert is_blank("  ") and is_blank(None)
    assert not is_blank([]) and not is_blank(0)


def test_as_list_reads_one_value_as_a_list_of_one():
    assert as_list(None) == []
    assert as_list("a") == ["a"]
    assert as_list({"id": 1}) == [{"id": 1}]
    assert as_list([1, 2]) == [1, 2]
    assert as_list((1,)) == [1]


def test_a_blank_value_no_longer_blocks_the_fallback_path(tmp_path):
    """The issue's bug: with "em": ["email", "customer.email"], an email of "   " blocked
    the fallback and the record was dead-lettered for lacking a match key."""
    ts = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": ["null", "string"]},
            "customer": {"type": ["null", "object"], "properties": {"email": {"type": "string"}}},
            "ts": {"type": "string"},
        },
    }
    lines = [
        json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]}),
    ]
    for i, email in enumerate(["   ", "", "\t", None]):
        record = {"id": i, "email": email, "customer": {"email": f"c{i}@example.com"}, "ts": ts}
        lines.append(json.dumps({"type": "RECORD", "stream": "s", "record": record}))
    lines.append(json.dumps({"type": "STATE", "value": {"at": 4}}))
    mapping = {
        "event_name": "lead",
        "action_source": "web",
        "event_time": "ts",
        "event_id": "id",
        "user_data": {"em": ["email", "customer.email"]},
    }
    for validate in (True, False):  # both routes: checked fast path and unchecked
        config = {
            "ad_account_id": "549755885175",
            "dry_run": True,
            "validate_records": validate,
            "streams": {"s": mapping},
        }
        result = run_target(tmp_path, config, lines)
        assert result.returncode == 0, result.stderr[-2000:]
        bodies = (tmp_path / "dry-run.jsonl").read_text().splitlines()
        events = [e for body in bodies for e in json.loads(body)["data"]]
        assert [e["user_data"]["em"] for e in events] == [
            [hashlib.sha256(f"c{i}@example.com".encode()).hexdigest()] for i in range(4)
        ]
        assert not (tmp_path / "dead-letter.jsonl").exists()
