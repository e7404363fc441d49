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
    Template,
    to_bool,
    to_currency,
    to_decimal_string,
    to_int,
    to_str,
    to_text_list,
    to_unix_seconds,
)
from target_pinterest_conversions.mapping.keys import CUSTOM_DATA_KEYS
from target_pinterest_conversions.mapping.spec import RawEvent
from target_pinterest_conversions.pinterest.fields import (
    CONTENTS,
    CUSTOM_DATA,
    EVENT,
    FIELDS,
    field,
)
from target_pinterest_conversions.pinterest.limits import INT64_MAX, INT64_MIN


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


CONVERTERS_BY_KIND: Mapping[str, Callable[[Any, str], Any]] = {
    "text": to_str,
    "decimal": to_decimal_string,
    "integer": to_int,
    "text_list": to_text_list,
    "boolean": to_bool,
    "time": to_unix_seconds,
}
"""The converter of each registry kind that is called as ``convert(value, field_name)``."""


def custom_converter(key: str) -> Callable[[object], Any]:
    """Return the function that types one raw value of ``custom_data.<key>``.

    A converter returns ``None`` for a value that is no value once typed (an empty list
    of ``content_ids``): the field is then left out.
    """
    name = f"custom_data.{key}"
    kind = field(CUSTOM_DATA, key).kind
    if kind == "currency":
        return to_currency
    convert = CONVERTERS_BY_KIND[kind]
    return lambda value: convert(value, name)


_CUSTOM_CONVERTERS = {key: custom_converter(key) for key in CUSTOM_DATA_KEYS}


def build_custom_data(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Type every ``custom_data`` field; a field typed to ``None`` is left out."""
    out = {}
    for key, value in raw.items():
        typed = _CUSTOM_CONVERTERS[key](value)
        if typed is not None:
            out[key] = typed
    return out


EXTRA_CONVERTERS: Mapping[str, Callable[[Any, str], Any]] = {
    f.name: CONVERTERS_BY_KIND[f.kind] for f in FIELDS if f.group == EVENT
}
"""One converter per event-level field, called as ``convert(value, field_name)``."""


def start_event(event_name: str, action_source: str, event_time: object) -> dict[str, Any]:
    """Return a new event with its first keys, in Pinterest's order; ``event_time`` typed."""
    return {
        "event_name": event_name,
        "action_source": action_source,
        "event_time": to_unix_seconds(event_time),
    }


def event_id_of(
    value: object,
    stream: str,
    key: object,
    event_name: str,
    item_index: int | None = None,
    *,
    item_scoped: bool = False,
) -> str:
    """Return the event id: the mapped ``value`` as text, else one derived from the record.

    A template's ``value`` (:class:`Template`) is filled in, each field's value as text.

    In item-level mode (``item_index`` set), a mapped id gets ``:<index>`` unless it
    already differs per item (``item_scoped``), and a derived id includes the index.
    """
    if value is None:
        return derive_event_id(stream, key if item_index is None else [key, item_index], event_name)
    if value.__class__ is Template:
        value = value.text("event_id")
    event_id = to_str(value, "event_id")
    if item_index is not None and not item_scoped:
        return f"{event_id}:{item_index}"
    return event_id


def add_partner_name(event: dict[str, Any], partner_name: str | None) -> None:
    """Set the ``partner_name`` setting on the event, unless the mapping set its own."""
    if partner_name and "partner_name" not in event:
        event["partner_name"] = partner_name


ITEM_CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    f.name: CONVERTERS_BY_KIND[f.kind] for f in FIELDS if f.group == CONTENTS
}
"""One converter per ``contents`` item key, called as ``convert(value, key)``."""


def build_contents(raw_items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Type every ``contents`` item; items left with no fields are skipped."""
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_items):
        item = {}
        for key, value in raw.items():
            try:
                item[key] = ITEM_CONVERTERS[key](value, key)
            except EventError as exc:
                raise EventError(f"contents[{index}].{exc.reason}") from None
        add_item(out, item)
    return out


def add_item(items: list[dict[str, Any]], item: dict[str, Any]) -> None:
    """Keep a typed ``contents`` item; an item left with no fields is skipped."""
    if item:
        items.append(item)


def put_contents(custom_data: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Set ``contents`` when there is at least one item."""
    if items:
        custom_data["contents"] = items


def put_custom_data(event: dict[str, Any], custom_data: dict[str, Any]) -> None:
    """Derive what ``contents`` gives, then set ``custom_data`` unless it is empty."""
    derive_from_contents(custom_data)
    if custom_data:
        event["custom_data"] = custom_data


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
    event = start_event(raw.event_name, raw.action_source, raw.event_time)
    event["event_id"] = event_id_of(
        raw.event_id, stream, key, raw.event_name, raw.item_index, item_scoped=item_scoped_id
    )
    for name, value in raw.extra.items():
        event[name] = EXTRA_CONVERTERS[name](value, name)
    add_partner_name(event, partner_name)
    custom_data = build_custom_data(raw.custom_data)
    if raw.contents:
        put_contents(custom_data, build_contents(raw.contents))
    put_custom_data(event, custom_data)
    return event
