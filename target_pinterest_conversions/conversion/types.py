"""Converters of raw values to Pinterest's types, each with its inline form. Pure.

Pinterest wants ``value``, ``predicted_ltv`` and ``item_price`` as decimal strings,
``quantity`` and ``num_items`` as integers, ids as strings and ``event_time`` as integer
Unix seconds. The converters here do exactly that and raise :class:`EventError`, whose
reason names the field but never echoes its value. Numbers beyond what Pinterest's types
hold (``int64``, a double) are refused before their text is built: see
:mod:`~target_pinterest_conversions.pinterest.limits`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, TypeVar

from target_pinterest_conversions.conversion.values import as_list
from target_pinterest_conversions.pinterest.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_NUMBER_DIGITS,
    InvalidText,
    in_double_range,
    in_int64,
    number_text,
)

_fromisoformat = dt.datetime.fromisoformat


_EPOCH_MS_THRESHOLD = 100_000_000_000  # 1973 in ms, year 5138 in s: beyond is milliseconds
# The largest milliseconds whose seconds fit in int64; seconds below the threshold always do.
_MAX_EPOCH_MS = Decimal(INT64_MAX * 1000 + 999)
DECIMAL_PRECISION = 28  # the default decimal context's precision, which normalize() rounds to
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


class EventError(ValueError):
    """A raw value cannot become a valid event field; ``reason`` holds no raw value.

    Not a :class:`~target_pinterest_conversions.errors.TargetError`: it never reaches
    the command. Conversion catches it, and the record is dead-lettered with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InlineForm:
    """A converter's usual case written once, as expressions, for generated code.

    Where ``test`` holds for the value ``v`` (it may bind ``s``), ``result`` is what the
    converter returns. The converters below are built from these forms
    (:func:`_fronted`), and the fast path inlines the same text: the usual case of each
    rule exists once.
    """

    test: str
    result: str


INLINE_FORMS: Mapping[str, InlineForm] = {
    "text": InlineForm("v.__class__ is str and (s := v.strip())", "s"),
    "integer": InlineForm(f"v.__class__ is int and {INT64_MIN} <= v <= {INT64_MAX}", "v"),
    # Three ASCII letters once stripped, sent upper-case: ISO-4217's form.
    "currency": InlineForm(
        "v.__class__ is str and len(s := v.strip()) == 3 and s.isascii() and s.isalpha()",
        "s.upper()",
    ),
    # A finite Decimal's str() without exponent is its plain form (it never expands an
    # exponent); trailing zeros go, as normalize() would drop them, without its cost: the
    # value has no more digits than the context's precision.
    "decimal": InlineForm(
        "v.__class__ is _Decimal and 'E' not in (s := str(v)) and s[-1].isdigit() "
        f"and len(s) <= {DECIMAL_PRECISION}",
        "('0' if (s := (s.rstrip('0').rstrip('.') if '.' in s else s)) in ('-0', '') else s)",
    ),
}
"""Inline forms by registry kind: text, integer, currency, decimal."""

INLINE_NAMES: Mapping[str, object] = {"_Decimal": Decimal}
"""The names the inline forms use, for a generated function's namespace."""

_T = TypeVar("_T")


def _fronted(kind: str, rest: Callable[[Any, str], _T], name: str = "") -> Callable[..., _T]:
    """Build the converter of ``kind``: its inline form first, ``rest`` for other values.

    ``rest`` handles every value the form does not take; the usual case is not
    restated there. ``name`` is a default field name (the currency's is fixed).
    """
    form = INLINE_FORMS[kind]
    default = f" = {name!r}" if name else ""
    source = (
        f"def convert(v, name{default}):\n"
        f"    if {form.test}: return {form.result}\n"
        "    return rest(v, name)\n"
    )
    namespace: dict[str, Any] = {**INLINE_NAMES, "rest": rest}
    exec(compile(source, f"<{kind} converter>", "exec"), namespace)  # noqa: S102 - our own text
    convert: Callable[..., _T] = namespace["convert"]
    convert.__doc__ = rest.__doc__
    return convert


def _parse_iso(text: str, name: str = "event_time") -> dt.datetime:
    """Parse stripped ISO-8601 text (or a common export form) into a datetime."""
    try:
        return _fromisoformat(text)  # Python 3.11+ also reads a trailing Z
    except ValueError:
        pass
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return _fromisoformat(candidate)
    except ValueError:
        pass
    # Python 3.10's fromisoformat is strict; these are the other common export forms.
    for fmt in ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return dt.datetime.strptime(candidate, fmt)
        except ValueError:
            continue
    raise EventError(f"{name} is not an ISO-8601 date-time or Unix timestamp")


def to_unix_seconds(value: object, name: str = "event_time") -> int:
    """Convert a datetime, ISO-8601 string or epoch seconds/milliseconds to Unix seconds.

    Naive datetimes are taken as UTC, as Singer taps emit UTC. ``name`` is the field
    the reasons name.
    """
    if isinstance(value, str):
        text = value.strip()
        # A dash after four digits is a date, never a number: no regex needed then.
        if text[4:5] != "-" and _NUMERIC.match(text):
            return to_unix_seconds(Decimal(text), name)
        moment = _parse_iso(text, name)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return int(moment.timestamp())
    if value is None:
        raise EventError(f"{name} is missing")
    if isinstance(value, bool):
        raise EventError(f"{name} is a boolean, not a time")
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return int(moment.timestamp())
    if isinstance(value, dt.date):
        return int(
            dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
        )
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite() or number < 0:
            raise EventError(f"{name} is not a valid Unix timestamp")
        if number >= _EPOCH_MS_THRESHOLD:
            if number > _MAX_EPOCH_MS:
                # Checked before dividing and int(): 1e999999 would take minutes.
                raise EventError(f"{name} is out of range (Pinterest takes int64 seconds)")
            number = number / 1000
        return int(number)
    raise EventError(f"{name} is a {type(value).__name__}, not a time")


def _to_decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool):
        raise EventError(f"{name} is a boolean, not a number")
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            raise EventError(f"{name} is a {type(value).__name__}, not a number")
    except InvalidOperation:
        raise EventError(f"{name} is not a number") from None
    if not number.is_finite():
        raise EventError(f"{name} is not a finite number")
    return number


def _decimal_string(value: object, name: str) -> str:
    """Format a number as a plain decimal string without float noise (``12.3``).

    Pinterest reads it as a double, so a number beyond a double's range is refused.
    """
    if type(value) is int:
        text = str(value)
        if len(text) < 309 or in_double_range(Decimal(value)):  # below 1e308: no question
            return text
        raise EventError(f"{name} is out of range (Pinterest reads it as a double)")
    number = _to_decimal(value, name)
    if not -323 <= number.adjusted() <= 307 and not in_double_range(number):
        raise EventError(f"{name} is out of range (Pinterest reads it as a double)")
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _int(value: object, name: str) -> int:
    """Convert an integral number (or numeric text) within Pinterest's int64 to ``int``."""
    number = _to_decimal(value, name)
    if not in_int64(number):
        # Checked before int(): a Decimal of a million digits would take minutes.
        raise EventError(f"{name} is out of range (Pinterest takes a 64-bit integer)")
    if number != number.to_integral_value():
        raise EventError(f"{name} is not a whole number")
    return int(number)


def _str(value: object, name: str) -> str:
    """Convert an id or label to a non-empty string; integral numbers lose their ``.0``."""
    if type(value) is int:
        return str(value)
    if isinstance(value, InvalidText):
        raise EventError(f"{name} is not valid Unicode (it holds a lone surrogate)")
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        raise EventError(f"{name} is a boolean, not text")
    elif isinstance(value, (int, float, Decimal)):
        written = number_text(_to_decimal(value, name))
        if written is None:
            raise EventError(f"{name} is a number of more than {MAX_NUMBER_DIGITS} digits")
        text = "0" if written == "-0" else written
    else:
        raise EventError(f"{name} is a {type(value).__name__}, not text")
    if not text:
        raise EventError(f"{name} is empty")
    return text


class Template(NamedTuple):
    """An ``event_id`` template's literal pieces and the values read for its fields."""

    pieces: tuple[str, ...]
    values: tuple[object, ...]

    def text(self, name: str) -> str:
        """The template filled in: each value as text (:func:`to_str`), between the pieces."""
        parts = [self.pieces[0]]
        for value, piece in zip(self.values, self.pieces[1:], strict=True):
            parts += (to_str(value, name), piece)
        return "".join(parts)


def to_text_list(value: object, name: str) -> list[str] | None:
    """Convert one value or a list of them to a list of text; ``None`` when none is given.

    Null items are skipped; an empty list is no value, and the field is left out.
    """
    texts = [to_str(v, name) for v in as_list(value) if v is not None]
    return texts or None


def _currency(value: object, name: str) -> str:
    """Return an upper-case ISO-4217 code."""
    text = to_str(value, name)
    if value.__class__ is not str:  # a number or a str subclass, now plain text
        return to_currency(text, name)
    # Plain text the currency form refused: not three letters.
    raise EventError(f"{name} is not a three-letter ISO-4217 code")


to_str: Callable[[object, str], str] = _fronted("text", _str)
to_int: Callable[[object, str], int] = _fronted("integer", _int)
to_decimal_string: Callable[[object, str], str] = _fronted("decimal", _decimal_string)
to_currency: Callable[..., str] = _fronted("currency", _currency, "custom_data.currency")


def to_bool(value: object, name: str) -> bool:
    """Read a boolean from a boolean, 0/1, or ``true``/``false``/``yes``/``no`` text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise EventError(f"{name} is not a boolean")


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
