"""Each typing rule's usual case is written once, as an inline form, and the converter is
built from it: the fast path and the full pipeline run the same text.

The converters are compared here with an independent statement of Pinterest's types
(``ORACLES``) on values that reach both halves of each converter: its inline form and
the code for every other value.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion.types import (
    INLINE_FORMS,
    INLINE_NAMES,
    EventError,
    to_currency,
    to_decimal_string,
    to_int,
    to_str,
)
from target_pinterest_conversions.pinterest.limits import INT64_MAX, INT64_MIN

CONVERTERS = {
    "text": lambda v: to_str(v, "f"),
    "integer": lambda v: to_int(v, "f"),
    "currency": to_currency,
    "decimal": lambda v: to_decimal_string(v, "f"),
}

values = st.one_of(
    st.text(max_size=8),
    st.sampled_from([" usd ", "EUR", "eu", "€€€", "US1", "  ", "", " a ", "\t\n", "\u3000"]),
    st.text(" \t\n\r\x0b\x0c\u00a0\u2003", max_size=4),
    st.from_regex(r"\s?[A-Za-z]{3}\s?", fullmatch=True),
    st.from_regex(r"\s?[A-Za-zÀ-ÿ]{2,4}\s?", fullmatch=True),
    st.integers(),
    st.integers(INT64_MIN - 2, INT64_MIN + 2),
    st.integers(INT64_MAX - 2, INT64_MAX + 2),
    st.sampled_from([INT64_MAX + 1, INT64_MIN - 1, 2**70, -(2**70), 10**400]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=3, min_value=-(10**30), max_value=10**30),
    st.sampled_from([Decimal("0.00"), Decimal("-0"), Decimal("1E+2"), Decimal("12.300")]),
    st.floats(),
    st.booleans(),
    st.none(),
)


def _compile(kind: str):
    form = INLINE_FORMS[kind]
    namespace = dict(INLINE_NAMES)
    source = (
        "def f(v):\n"
        f"    if {form.test}:\n"
        f"        return True, {form.result}\n"
        "    return False, None\n"
    )
    exec(source, namespace)  # noqa: S102 - the package's own generated code
    return namespace["f"]


class Refused(Exception):
    """The oracle's verdict: Pinterest's type cannot take the value."""


def _text(v):
    if v.__class__ is not str or not v.strip():
        raise Refused
    return v.strip()


def _integer(v):
    if v.__class__ is not int or not INT64_MIN <= v <= INT64_MAX:
        raise Refused
    return v


def _currency(v):
    if v.__class__ is not str or not re.fullmatch(r"[A-Za-z]{3}", v.strip()):
        raise Refused
    return v.strip().upper()


def _decimal(v):
    if v.__class__ is not Decimal or not v.is_finite() or not -323 <= v.adjusted() <= 307:
        raise Refused
    text = format(v.normalize(), "f")
    return "0" if text in ("-0", "") else text


ORACLES = {"text": _text, "integer": _integer, "currency": _currency, "decimal": _decimal}
"""Pinterest's types stated plainly, for the values of the class each kind usually gets."""

USUAL_CLASS = {"text": str, "integer": int, "currency": str, "decimal": Decimal}


@pytest.mark.parametrize("kind", sorted(INLINE_FORMS))
def test_a_converter_types_its_usual_class_as_pinterest_does(kind):
    inline, convert, oracle = _compile(kind), CONVERTERS[kind], ORACLES[kind]
    reach = {"inline": 0, "rest": 0}

    # Derandomized: the reach floors below are counts over the draws and must hold every run.
    @settings(max_examples=1500, deadline=None, derandomize=True)
    @given(values)
    def check(value):
        taken, result = inline(value)
        try:
            got = convert(value)
        except EventError:
            got = Refused
        if taken:
            reach["inline"] += 1
            assert got == result
        elif value.__class__ is USUAL_CLASS[kind]:
            reach["rest"] += 1
        if value.__class__ is not USUAL_CLASS[kind]:
            return  # other classes: the behaviour tests in tests/test_field_typing.py
        try:
            expected = oracle(value)
        except Refused:
            expected = Refused
        assert got == expected, value
        assert type(got) is type(expected)

    check()
    # Both halves of the converter are reached with values of the usual class.
    assert reach["inline"] >= 30, reach
    assert reach["rest"] >= 10, reach


def test_every_inline_form_has_a_converter_and_an_oracle_here():
    assert set(INLINE_FORMS) == set(CONVERTERS) == set(ORACLES)
