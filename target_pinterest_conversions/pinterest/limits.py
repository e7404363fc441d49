r"""What Pinterest and JSON can carry: integer and double ranges, numbers as text, valid text.

Pinterest's request schema types ``event_time``, ``num_items`` and ``contents[].quantity``
as ``integer`` with ``format: int64``, and reads ``value``, ``predicted_ltv`` and
``item_price`` as strings "parsed into a double". A number outside those ranges is refused
by Pinterest (or read as infinity or zero), and a huge exponent written out in full
(``1e999999`` has a million digits) takes minutes and gigabytes: such numbers are refused
here, before their text is built, with a reason.

Pinterest's path parameter ``ad_account_id`` is a text of 1 to 18 digits (``^\\d+$``,
``maxLength: 18``): :func:`ad_account_id` reads a configured or recorded value as one.

JSON text may also escape lone UTF-16 surrogates (``"\\ud800"``), which are not Unicode
characters and cannot be encoded as UTF-8, so no request body or file can hold them. The
reader decodes such lines and wraps each such string in :class:`InvalidText`, so that a
converter refuses it by its class, at no cost to ordinary strings. Pure: no I/O.
"""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DOUBLE_MAX = Decimal(sys.float_info.max)  # exact: 1.797...e308
# Exact: 2**-1074, the smallest positive (subnormal) double.
DOUBLE_MIN = Decimal(sys.float_info.min * sys.float_info.epsilon)
MAX_NUMBER_DIGITS = 4300
"""Digits a number may have when written as text: Python's limit for ``str(int)``, and the
JSON decoder's for integers, so a decoded integer always fits."""

_UINT64_END = 2**64  # orjson writes integers from INT64_MIN up to, not including, this
MAX_EVENT_AGE_SECONDS = 7 * 24 * 3600
"""The API's window: it rejects events older than 7 days (Ads Manager's upload takes 30)."""
TEST_REQUESTS_PER_SECOND = 10
"""Pinterest's limit on requests sent with ``test=true``: 10 a second per app."""
AD_ACCOUNT_ID_DIGITS = 18
"""The longest ``ad_account_id`` Pinterest's path parameter takes (``maxLength: 18``)."""
_AD_ACCOUNT_ID = re.compile(rf"[0-9]{{1,{AD_ACCOUNT_ID_DIGITS}}}")  # ASCII digits only


class InvalidText(str):
    """Input text holding a lone surrogate: not valid Unicode, so never sent or written."""

    __slots__ = ()


def route(event_time: int, now: int) -> str:
    """Which of Pinterest's intakes takes an event of ``event_time`` at ``now``.

    ``api`` up to the API's 7 days, else ``csv`` (Ads Manager's upload, whose own window
    the checks apply): how ``output: api+csv`` routes events.
    """
    return "api" if now - event_time <= MAX_EVENT_AGE_SECONDS else "csv"


def ad_account_id(value: object) -> str | None:
    """Return ``value`` as an ad account id (1 to 18 ASCII digits), or ``None``.

    Text is trimmed; a non-negative integer is written as its digits (a JSON number or
    an unquoted YAML value). Anything else, booleans and fractions included, is not an id.
    """
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 10**AD_ACCOUNT_ID_DIGITS:
            return None
        text = str(value)
    else:
        return None
    return text if _AD_ACCOUNT_ID.fullmatch(text) else None


def in_int64(number: int | Decimal) -> bool:
    """Tell whether ``number`` is within Pinterest's ``int64`` range."""
    return INT64_MIN <= number <= INT64_MAX


def in_double_range(number: Decimal) -> bool:
    """Tell whether a finite ``number`` reads as a finite double, and as zero only when zero.

    Above 1.8e308 a double is infinite; a nonzero number below 5e-324 reads as zero.
    """
    adjusted = number.adjusted()
    if -323 <= adjusted <= 307:
        return True
    if not number:
        return True
    return DOUBLE_MIN <= number.copy_abs() <= DOUBLE_MAX


def number_text(number: Decimal) -> str | None:
    """Write a finite number in plain notation, integral ones without a fraction.

    ``Decimal("1E+3")`` gives ``1000`` and ``Decimal("2.50")`` gives ``2.50``. Returns
    ``None`` when the text would have more than :data:`MAX_NUMBER_DIGITS` digits, which
    is decided before any of it is built.
    """
    whole = number.to_integral_value()
    if number == whole:
        if whole.adjusted() >= MAX_NUMBER_DIGITS:
            return None
        return format(whole, "f")
    exponent = number.as_tuple().exponent
    if number.adjusted() >= MAX_NUMBER_DIGITS or (
        isinstance(exponent, int) and exponent < -MAX_NUMBER_DIGITS
    ):
        return None
    return format(number, "f")


def mark_invalid_text(value: Any) -> Any:
    """Return ``value`` with every string holding a lone surrogate wrapped in :class:`InvalidText`.

    For messages decoded by Python's ``json``, which, unlike msgspec, reads lone
    surrogate escapes; containers are changed in place.
    """
    if type(value) is str:
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return InvalidText(value)
        return value
    if type(value) is dict:
        for key, item in value.items():
            value[key] = mark_invalid_text(item)
    elif type(value) is list:
        for index, item in enumerate(value):
            value[index] = mark_invalid_text(item)
    return value


def json_safe(value: Any) -> Any:
    r"""Return a copy of ``value`` that orjson can write.

    Integers beyond 64 bits become their digits as text and lone surrogates are
    escaped (``\\ud800``); a record's key may hold either, as JSON allows both.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if INT64_MIN <= value < _UINT64_END:
            return value
        try:
            return str(value)
        except ValueError:  # more digits than Python writes
            return f"<integer of {value.bit_length()} bits>"
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
