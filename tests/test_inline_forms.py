"""Each converter's inline form (the fast path's code for the usual value) is the
converter: where its test holds, its result is exactly what the converter returns."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion.types import (
    INLINE_FORMS,
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
    st.sampled_from([" usd ", "EUR", "eu", "€€€", "US1", "  ", "", " a "]),
    st.from_regex(r"\s?[A-Za-z]{3}\s?", fullmatch=True),
    st.from_regex(r"\s?[A-Za-zÀ-ÿ]{2,4}\s?", fullmatch=True),
    st.integers(),
    st.integers(INT64_MIN - 2, INT64_MIN + 2),
    st.integers(INT64_MAX - 2, INT64_MAX + 2),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=3, min_value=-(10**30), max_value=10**30),
    st.sampled_from([Decimal("0.00"), Decimal("-0"), Decimal("1E+2"), Decimal("12.300")]),
    st.floats(),
    st.booleans(),
    st.none(),
)


def _compile(kind: str):
    form = INLINE_FORMS[kind]
    namespace = {"_Decimal": Decimal}
    source = (
        "def f(v):\n"
        f"    if {form.test}:\n"
        f"        return True, {form.result}\n"
        "    return False, None\n"
    )
    exec(source, namespace)  # noqa: S102 - the package's own generated code
    return namespace["f"]


@pytest.mark.parametrize("kind", sorted(INLINE_FORMS))
def test_an_inline_form_gives_what_its_converter_gives(kind):
    inline, convert = _compile(kind), CONVERTERS[kind]
    reach = {"inline": 0, "converter": 0}

    # Derandomized: the reach floors below are counts over the draws and must hold every run.
    @settings(max_examples=1500, deadline=None, derandomize=True)
    @given(values)
    def check(value):
        taken, result = inline(value)
        if not taken:
            reach["converter"] += 1
            return
        reach["inline"] += 1
        try:
            expected = convert(value)
        except EventError as exc:
            pytest.fail(f"inline form of {kind} accepted {value!r}, the converter refuses: {exc}")
        assert result == expected
        assert type(result) is type(expected)

    check()
    # Both the inline branch and the fall-back are reached.
    assert reach["inline"] >= 30, reach
    assert reach["converter"] >= 30, reach


def test_every_fast_path_kind_with_an_inline_form_has_a_converter_here():
    assert set(INLINE_FORMS) == set(CONVERTERS)
