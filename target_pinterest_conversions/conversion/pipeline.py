"""One record to one checked event: mapping, event, privacy, validation. Pure: no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from target_pinterest_conversions.conversion.checks import KNOWN_EVENT_NAMES, validate_event
from target_pinterest_conversions.conversion.event import build_event
from target_pinterest_conversions.conversion.info import build_info
from target_pinterest_conversions.conversion.reading import StreamReader
from target_pinterest_conversions.conversion.types import EventError
from target_pinterest_conversions.conversion.user_data import build_user_data
from target_pinterest_conversions.mapping.spec import RawEvent, StreamMapping
from target_pinterest_conversions.pinterest.limits import INT64_MIN, json_safe

_sha256 = hashlib.sha256
_UINT64_END = 2**64  # the dead-letter writer (orjson) writes integers up to, not including, this


@dataclass(slots=True)
class Conversion:
    """The result of converting one record.

    ``event`` is set only when the event is valid and can be sent; otherwise
    ``reasons`` says why not; ``skipped`` marks a record left out on purpose (an
    unmapped event name with the ``skip`` fallback). ``dropped`` lists values left out
    of the event as ``(field, reason)`` (personal data that cannot be normalized,
    ``app_info`` and ``device_info`` values beyond Pinterest's limits), and ``warnings``
    notes that do not stop sending.
    """

    event: dict[str, Any] | None
    key: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    partial_event: dict[str, Any] | None = None
    skipped: bool = False


def record_key(
    record: Mapping[str, Any],
    key_properties: Sequence[str],
    hashed_paths: frozenset[str],
) -> dict[str, Any]:
    """Return the record's key values, hashing any that the mapping treats as personal data.

    The key goes to the dead-letter output, which must never hold raw personal data,
    and which must be able to write it: an integer beyond 64 bits becomes its digits
    as text, and text holding a lone surrogate is escaped (JSON allows both).
    """
    key: dict[str, Any] = {}
    for name in key_properties:
        value = record.get(name)
        if name in hashed_paths and value is not None:
            # surrogatepass: the same bytes for valid text, and a digest for the rest.
            value = _sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()
        elif value.__class__ is int:
            if not INT64_MIN <= value < _UINT64_END:
                value = json_safe(value)
        elif value.__class__ is not str and value is not None:
            value = json_safe(value)
        key[name] = value
    return key


def convert_record(
    record: Mapping[str, Any],
    mapping: StreamMapping,
    *,
    key_properties: Sequence[str],
    now: int,
    partner_name: str | None = None,
    default_country: str | None = None,
    output: str = "api",
    reader: StreamReader | None = None,
) -> list[Conversion]:
    """Convert one record into checked Pinterest events, or the reasons it cannot be.

    A record gives one conversion, or one per item with ``event_per_item``; ``output``
    (``api`` or ``csv``) sets the checks' time window and rules. ``reader`` is the
    mapping's, built once per stream (:class:`StreamReader`); without it, one is built
    for this record.
    """
    key = record_key(record, key_properties, mapping.hashed_paths)
    if reader is None:
        reader = StreamReader(mapping)
    return [
        _convert(
            raw, record, key, mapping, key_properties, now, partner_name, default_country, output
        )
        for raw in reader.extract_all(record)
    ]


def _convert(
    raw: RawEvent,
    record: Mapping[str, Any],
    key: dict[str, Any],
    mapping: StreamMapping,
    key_properties: Sequence[str],
    now: int,
    partner_name: str | None,
    default_country: str | None,
    output: str = "api",
) -> Conversion:
    id_key: object = key if key_properties else record
    if raw.item_index is not None:
        key = {**key, "item": raw.item_index}
    if raw.reason:
        return Conversion(event=None, key=key, reasons=[raw.reason], skipped=raw.skipped)
    user_data, dropped = build_user_data(raw.user_data, default_country)
    info: dict[str, dict[str, Any]] = {}
    if raw.info:
        info, left_out = build_info(raw.info)
        dropped += left_out
    warnings = []
    if raw.event_name not in KNOWN_EVENT_NAMES:
        warnings.append(unlisted_event_name(raw.event_name, configured=_configured(raw, mapping)))
    try:
        event = build_event(
            raw,
            stream=mapping.stream,
            key=id_key,
            partner_name=partner_name,
            item_scoped_id=raw.item_index is not None and mapping.item_scoped_event_id(),
        )
    except EventError as exc:
        return Conversion(
            event=None,
            key=key,
            reasons=[exc.reason],
            dropped=dropped,
            warnings=warnings,
            partial_event={"user_data": user_data} if user_data else None,
        )
    event["user_data"] = user_data
    event.update(info)  # last: an event without them is byte for byte as before them
    reasons = validate_event(event, now, output)
    if reasons:
        return Conversion(
            event=None,
            key=key,
            reasons=reasons,
            dropped=dropped,
            warnings=warnings,
            partial_event=event,
        )
    return Conversion(event=event, key=key, dropped=dropped, warnings=warnings)


RECORD_EVENT_NAME_WARNING = (
    "event_name taken from a record (event_name_fallback: as_is) is not a Pinterest event "
    "name; the summary counts these, the value is never logged"
)
"""One warning for every such name: a record's value is its data, and may be anything."""


def unlisted_event_name(name: str | None, *, configured: bool = True) -> str:
    """The warning for an event name that Pinterest does not list.

    A name from the config is quoted, it is the user's own text; a record's is not.
    """
    if not configured:
        return RECORD_EVENT_NAME_WARNING
    return f"event_name '{name}' is not a Pinterest event name"


def _configured(raw: RawEvent, mapping: StreamMapping) -> bool:
    """Tell whether the event name is written in the config, not taken from the record."""
    rule = mapping.event_name_rule
    if rule is None or raw.event_name == mapping.event_name:
        return True
    return raw.event_name == rule.const or raw.event_name in rule.table.values()
