"""Typed Pinterest event fields from raw mapped values. Pure: no I/O.

Pinterest wants ``value``, ``predicted_ltv`` and ``item_price`` as decimal strings,
``quantity`` and ``num_items`` as integers, ids as strings and ``event_time`` as integer
Unix seconds. The converters here do exactly that and raise :class:`EventError`, whose
reason names the field but never echoes its value. Numbers beyond what Pinterest's types
hold (``int64``, a double) are refused before their text is built: see ``limits``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from target_pinterest_conversions.fields import (
    CONTENTS,
    CUSTOM_DATA,
    EVENT,
    FIELDS,
    field,
    names,
)
from target_pinterest_conversions.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_NUMBER_DIGITS,
    InvalidText,
    in_double_range,
    in_int64,
    number_text,
)
from target_pinterest_conversions.mapping import CUSTOM_DATA_KEYS, RawEvent
from target_pinterest_conversions.values import as_list

_fromisoformat = dt.datetime.fromisoformat
_EPOCH_MS_THRESHOLD = 100_000_000_000  # 1973 in ms, year 5138 in s: beyond is milliseconds
# The largest milliseconds whose seconds fit in int64; seconds below the threshold always do.
_MAX_EPOCH_MS = Decimal(INT64_MAX * 1000 + 999)
DECIMAL_PRECISION = 28  # the default decimal context's precision, which normalize() rounds to
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")

DECIMAL_STRING_FIELDS = frozenset(names(CUSTOM_DATA, "decimal"))
BOOLEAN_FIELDS = frozenset(names(EVENT, "boolean"))
STRING_FIELDS = frozenset(names(CUSTOM_DATA, "text"))


class EventError(ValueError):
    """A raw value cannot become a valid event field; ``reason`` holds no raw value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parse_iso(text: str) -> dt.datetime:
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
    raise EventError("event_time is not an ISO-8601 date-time or Unix timestamp")


def to_unix_seconds(value: object) -> int:
    """Convert a datetime, ISO-8601 string or epoch seconds/milliseconds to Unix seconds.

    Naive datetimes are taken as UTC, as Singer taps emit UTC.
    """
    if isinstance(value, str):
        text = value.strip()
        # A dash after four digits is a date, never a number: no regex needed then.
        if text[4:5] != "-" and _NUMERIC.match(text):
            return to_unix_seconds(Decimal(text))
        moment = _parse_iso(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return int(moment.timestamp())
    if value is None:
        raise EventError("event_time is missing")
    if isinstance(value, bool):
        raise EventError("event_time is a boolean, not a time")
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
            raise EventError("event_time is not a valid Unix timestamp")
        if number >= _EPOCH_MS_THRESHOLD:
            if number > _MAX_EPOCH_MS:
                # Checked before dividing and int(): 1e999999 would take minutes.
                raise EventError("event_time is out of range (Pinterest takes int64 seconds)")
            number = number / 1000
        return int(number)
    raise EventError(f"event_time is a {type(value).__name__}, not a time")


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


def to_decimal_string(value: object, name: str) -> str:
    """Format a number as a plain decimal string without float noise (``12.3``).

    Pinterest reads it as a double, so a number beyond a double's range is refused.
    """
    if type(value) is int:
        text = str(value)
        if len(text) < 309 or in_double_range(Decimal(value)):  # below 1e308: no question
            return text
        raise EventError(f"{name} is out of range (Pinterest reads it as a double)")
    if type(value) is Decimal and value.is_finite():
        # str() gives the plain form unless the exponent is large; it never expands one.
        text = str(value)
        if "E" not in text and len(text) <= DECIMAL_PRECISION:
            # What normalize() gives, without its cost: it would only drop trailing
            # zeros, as the value has no more digits than the context's precision.
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return "0" if text in ("-0", "") else text
        number = value
    else:
        number = _to_decimal(value, name)
    if not -323 <= number.adjusted() <= 307 and not in_double_range(number):
        raise EventError(f"{name} is out of range (Pinterest reads it as a double)")
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def to_int(value: object, name: str) -> int:
    """Convert an integral number (or numeric text) within Pinterest's int64 to ``int``."""
    if type(value) is int:
        if INT64_MIN <= value <= INT64_MAX:
            return value
        raise EventError(f"{name} is out of range (Pinterest takes a 64-bit integer)")
    number = _to_decimal(value, name)
    if not in_int64(number):
        # Checked before int(): a Decimal of a million digits would take minutes.
        raise EventError(f"{name} is out of range (Pinterest takes a 64-bit integer)")
    if number != number.to_integral_value():
        raise EventError(f"{name} is not a whole number")
    return int(number)


def to_str(value: object, name: str) -> str:
    """Convert an id or label to a non-empty string; integral numbers lose their ``.0``."""
    if type(value) is str:
        text = value.strip()
        if text:
            return text
        raise EventError(f"{name} is empty")
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


def to_currency(value: object) -> str:
    """Return an upper-case ISO-4217 code."""
    text = to_str(value, "custom_data.currency")
    if not _CURRENCY.match(text):
        raise EventError("custom_data.currency is not a three-letter ISO-4217 code")
    return text.upper()


@dataclass(frozen=True)
class InlineForm:
    """A converter's usual case written as expressions, for generated code.

    Where ``test`` holds for the value ``v`` (it may bind ``s``), ``result`` is what the
    converter returns for it; any other value goes through the converter. Each form
    sits beside its converter here, and ``tests/test_events.py`` holds the two equal.
    """

    test: str
    result: str


INLINE_FORMS: Mapping[str, InlineForm] = {
    "text": InlineForm("v.__class__ is str and (s := v.strip())", "s"),
    "integer": InlineForm(f"v.__class__ is int and {INT64_MIN} <= v <= {INT64_MAX}", "v"),
    "currency": InlineForm(
        "v.__class__ is str and len(s := v.strip()) == 3 and s.isascii() and s.isalpha()",
        "s.upper()",
    ),
    # A finite Decimal's str() without exponent is its plain form; trailing zeros go,
    # as in to_decimal_string's own first branch.
    "decimal": InlineForm(
        "v.__class__ is _Decimal and 'E' not in (s := str(v)) and s[-1].isdigit() "
        f"and len(s) <= {DECIMAL_PRECISION}",
        "('0' if (s := (s.rstrip('0').rstrip('.') if '.' in s else s)) in ('-0', '') else s)",
    ),
}
"""Inline forms by registry kind: text, integer, currency, decimal."""


def _canonical(value: object) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (Decimal, float)):
        try:
            return to_decimal_string(value, "key")
        except EventError:
            # Not a finite double (NaN, 1e999999): still part of the record, in short form.
            return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def derive_event_id(stream: str, key: object, event_name: str) -> str:
    """Return a deterministic event id: the same record gives the same id on every run.

    ``key`` is the record's key property values (or, for streams without key
    properties, the whole record). The id is the SHA-256 hex of a canonical JSON of the
    stream name, the key and the event name, so Pinterest can deduplicate resends.
    """
    payload = json.dumps([stream, _canonical(key), event_name], separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _content_ids(value: object) -> list[str]:
    return [to_str(v, "custom_data.content_ids") for v in as_list(value) if v is not None]


_CONVERTERS_BY_KIND: dict[str, Callable[[Any, str], Any]] = {
    "text": to_str,
    "decimal": to_decimal_string,
    "integer": to_int,
}
"""The converter of each registry kind that is called as ``convert(value, field_name)``."""


def custom_converter(key: str) -> Callable[[object], Any]:
    """Return the function that types one raw value of ``custom_data.<key>``."""
    name = f"custom_data.{key}"
    kind = field(CUSTOM_DATA, key).kind
    if kind == "currency":
        return to_currency
    if kind == "text_list":
        return _content_ids
    convert = _CONVERTERS_BY_KIND[kind]
    return lambda value: convert(value, name)


_CUSTOM_CONVERTERS = {key: custom_converter(key) for key in CUSTOM_DATA_KEYS}


def build_custom_data(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Type every ``custom_data`` field; empty ``content_ids`` lists are left out."""
    out = {key: _CUSTOM_CONVERTERS[key](value) for key, value in raw.items()}
    if out.get("content_ids") == []:
        del out["content_ids"]
    return out


ITEM_CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    f.name: _CONVERTERS_BY_KIND[f.kind] for f in FIELDS if f.group == CONTENTS
}
"""One converter per ``contents`` item key, called as ``convert(value, key)``."""


def build_contents(raw_items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Type every ``contents`` item; items left with no fields are skipped."""
    out = []
    for index, raw in enumerate(raw_items):
        item = {}
        for key, value in raw.items():
            try:
                item[key] = ITEM_CONVERTERS[key](value, key)
            except EventError as exc:
                raise EventError(f"contents[{index}].{exc.reason}") from None
        if item:
            out.append(item)
    return out


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


def derive_from_contents(custom_data: dict[str, Any]) -> None:
    """Fill ``content_ids``, ``num_items`` and ``value`` from ``contents`` when not mapped.

    ``value`` is the sum of quantity x item price, and only when every item has a price
    (a missing quantity counts as 1); a partial sum would under-report the order.
    """
    contents = custom_data.get("contents")
    if not contents:
        return
    if "content_ids" not in custom_data:
        ids = [item["id"] for item in contents if "id" in item]
        if ids:
            custom_data["content_ids"] = ids
    if "num_items" not in custom_data:
        total = sum(item.get("quantity", 1) for item in contents)
        if not INT64_MIN <= total <= INT64_MAX:
            raise EventError(
                "custom_data.num_items, the sum of the contents' quantities, is out of range "
                "(Pinterest takes a 64-bit integer)"
            )
        custom_data["num_items"] = total
    if "value" not in custom_data and all("item_price" in item for item in contents):
        total = sum(Decimal(item["item_price"]) * item.get("quantity", 1) for item in contents)
        custom_data["value"] = to_decimal_string(total, "custom_data.value")


def build_event(
    raw: RawEvent,
    *,
    stream: str,
    key: object,
    partner_name: str | None = None,
    item_scoped_id: bool = False,
) -> dict[str, Any]:
    """Build a Pinterest event (without ``user_data``) from raw mapped values.

    Args:
        raw: the values read from the record by the stream's mapping.
        stream: the stream name, part of a derived event id.
        key: the record's key values, used when no ``event_id`` is mapped.
        partner_name: sent on the event when set (a mapped ``partner_name`` wins).
        item_scoped_id: the mapped event id already differs per item, so it is not
            suffixed with the item's index in item-level mode.

    Raises:
        EventError: a field is missing or cannot take Pinterest's type.

    """
    event: dict[str, Any] = {
        "event_name": raw.event_name,
        "action_source": raw.action_source,
        "event_time": to_unix_seconds(raw.event_time),
    }
    index = raw.item_index
    if raw.event_id is not None:
        event_id = to_str(raw.event_id, "event_id")
        if index is not None and not item_scoped_id:
            event_id = f"{event_id}:{index}"
        event["event_id"] = event_id
    else:
        derived_key = key if index is None else [key, index]
        event["event_id"] = derive_event_id(stream, derived_key, raw.event_name)
    for name, value in raw.extra.items():
        event[name] = to_bool(value, name) if name in BOOLEAN_FIELDS else to_str(value, name)
    if partner_name and "partner_name" not in event:
        event["partner_name"] = partner_name
    custom_data = build_custom_data(raw.custom_data)
    if raw.contents:
        contents = build_contents(raw.contents)
        if contents:
            custom_data["contents"] = contents
    derive_from_contents(custom_data)
    if custom_data:
        event["custom_data"] = custom_data
    return event
