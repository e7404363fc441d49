"""The keys a stream mapping may hold, derived from the field registry. Pure data."""

from __future__ import annotations

from target_pinterest_conversions.pinterest.fields import (
    CONTENTS,
    CUSTOM_DATA,
    EVENT,
    USER_DATA,
    names,
)

USER_DATA_KEYS: tuple[str, ...] = names(USER_DATA)
HASHED_KEYS: tuple[str, ...] = names(USER_DATA, "hashed")
CUSTOM_DATA_KEYS: tuple[str, ...] = names(CUSTOM_DATA)
CONTENT_ITEM_KEYS: tuple[str, ...] = names(CONTENTS)
EXTRA_STRING_FIELDS: tuple[str, ...] = names(EVENT, "text")
"""Event-level string fields a mapping may set (``partner_name`` overrides the setting)."""
EXTRA_BOOLEAN_FIELDS: tuple[str, ...] = names(EVENT, "boolean")

EVENT_NAME_FALLBACKS: tuple[str, ...] = ("custom", "skip", "as_is")

STREAM_MAPPING_KEYS: tuple[str, ...] = (
    "preset",
    "event_name",
    "event_name_from",
    "event_name_map",
    "event_name_fallback",
    "action_source",
    "action_source_from",
    "action_source_map",
    "event_time",
    "event_id",
    "event_per_item",
    "user_data",
    "custom_data",
    "contents",
    "content_id",
    *EXTRA_STRING_FIELDS,
    *EXTRA_BOOLEAN_FIELDS,
)

ITEM = "$item"
