"""The Pinterest event built from a record's raw mapped values. Pure: no I/O.

Each field is typed by its converter in :mod:`.types`, chosen by its kind in the field
registry; ``contents`` items are typed the same way, and ``content_ids``, ``num_items``
and ``value`` are derived from them when not mapped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from target_pinterest_conversions.conversion.types import (
    EventError,
    to_bool,
    to_currency,
    to_decimal_string,
    to_int,
    to_str,
    to_unix_seconds,
)
from target_pinterest_conversions.conversion.values import as_list
from target_pinterest_conversions.mapping.keys import CUSTOM_DATA_KEYS
from target_pinterest_conversions.mapping.spec import RawEvent
from target_pinterest_conversions.pinterest.fields import (
    CONTENTS,
    CUSTOM_DATA,
    EVENT,
    FIELDS,
    field,
    names,
)
from target_pinterest_conversions.pinterest.limits import INT64_MAX, INT64_MIN

DECIMAL_STRING_FIELDS = frozenset(names(CUSTOM_DATA, "decimal"))
BOOLEAN_FIELDS = frozenset(names(EVENT, "boolean"))
STRING_FIELDS = frozenset(names(CUSTOM_DATA, "text"))


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
