"""One record to one checked event: mapping, event, privacy, validation. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from target_pinterest_conversions.events import EventError, build_event
from target_pinterest_conversions.mapping import StreamMapping
from target_pinterest_conversions.privacy import build_user_data, sha256_hex
from target_pinterest_conversions.validation import KNOWN_EVENT_NAMES, validate_event


@dataclass
class Conversion:
    """The result of converting one record.

    ``event`` is set only when the event is valid and can be sent; otherwise
    ``reasons`` says why not. ``dropped`` lists personal-data values left out of the
    event as ``(field, reason)``, and ``warnings`` notes that do not stop sending.
    """

    event: dict[str, Any] | None
    key: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    partial_event: dict[str, Any] | None = None


def record_key(
    record: Mapping[str, Any],
    key_properties: Sequence[str],
    hashed_paths: frozenset[str],
) -> dict[str, Any]:
    """Return the record's key values, hashing any that the mapping treats as personal data.

    The key goes to the dead-letter output, which must never hold raw personal data.
    """
    key: dict[str, Any] = {}
    for name in key_properties:
        value = record.get(name)
        if name in hashed_paths and value is not None:
            value = sha256_hex(str(value))
        key[name] = value
    return key


def convert_record(
    record: Mapping[str, Any],
    mapping: StreamMapping,
    *,
    key_properties: Sequence[str],
    now: int,
    partner_name: str | None = None,
) -> Conversion:
    """Convert one record into a checked Pinterest event, or the reasons it cannot be one."""
    key = record_key(record, key_properties, mapping.hashed_paths)
    raw = mapping.extract(record)
    user_data, dropped = build_user_data(raw.user_data)
    warnings = []
    if raw.event_name not in KNOWN_EVENT_NAMES:
        warnings.append(f"event_name '{raw.event_name}' is not a standard Pinterest event name")
    try:
        event = build_event(
            raw,
            stream=mapping.stream,
            key=key if key_properties else record,
            partner_name=partner_name,
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
    reasons = validate_event(event, now)
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
