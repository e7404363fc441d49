"""The keys a stream mapping may hold and their JSON Schema, from the field registry. Pure."""

from __future__ import annotations

from typing import Any

from target_pinterest_conversions.mapping.presets import CONTENT_ID_PATHS, PRESETS
from target_pinterest_conversions.pinterest.fields import (
    CONTENTS,
    CUSTOM_DATA,
    EVENT,
    FIELDS,
    INFO_GROUPS,
    USER_DATA,
    names,
)
from target_pinterest_conversions.pinterest.vocabulary import ACTION_SOURCES

USER_DATA_KEYS: tuple[str, ...] = names(USER_DATA)
HASHED_KEYS: tuple[str, ...] = names(USER_DATA, "hashed")
CUSTOM_DATA_KEYS: tuple[str, ...] = names(CUSTOM_DATA)
CONTENT_ITEM_KEYS: tuple[str, ...] = names(CONTENTS)
EXTRA_STRING_FIELDS: tuple[str, ...] = names(EVENT, "text")
"""Event-level string fields a mapping may set (``partner_name`` overrides the setting)."""
EXTRA_BOOLEAN_FIELDS: tuple[str, ...] = names(EVENT, "boolean")
INFO_KEYS: dict[str, tuple[str, ...]] = {group: names(group) for group in INFO_GROUPS}
"""The keys of each object group (``app_info``, ``device_info``), in the registry's order."""

EVENT_NAME_FALLBACKS: tuple[str, ...] = ("custom", "skip", "as_is")

STREAM_MAPPING_KEYS: tuple[str, ...] = (
    "preset",
    "ad_account_id",
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
    "skip_when",
    *INFO_GROUPS,
    *EXTRA_STRING_FIELDS,
    *EXTRA_BOOLEAN_FIELDS,
)

ITEM = "$item"

_PATHS_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
}
_URL_PARAM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"url_param": {"type": "string", "minLength": 1}, "from": _PATHS_SCHEMA},
    "required": ["url_param", "from"],
    "additionalProperties": False,
    "description": "A query parameter of the URL found at a path (or the first of paths).",
}
_CONST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"const": {}},
    "required": ["const"],
    "additionalProperties": False,
    "description": "A constant.",
}
_SOURCE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "description": "A dotted path into the record."},
        {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, _URL_PARAM_SCHEMA]},
            "minItems": 1,
            "description": "Paths (or url_param forms) tried in order; the first non-empty "
            "value wins.",
        },
        _URL_PARAM_SCHEMA,
        _CONST_SCHEMA,
    ]
}
"""A value source: a path, a list of paths, ``{"const": value}`` or a URL's parameter."""

_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean", "null"]}
_CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "{path, equals | in | not_in | is (present, absent, truthy, falsy)}, "
    "or {any_of: [...]} / {all_of: [...]}",
    "properties": {
        "path": {"type": "string"},
        "equals": _SCALAR,
        "in": {"type": "array", "items": _SCALAR},
        "not_in": {"type": "array", "items": _SCALAR},
        "is": {"type": "string", "enum": ["present", "absent", "truthy", "falsy"]},
        "any_of": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "all_of": {"type": "array", "minItems": 1, "items": {"type": "object"}},
    },
    "additionalProperties": False,
}

_AD_ACCOUNT_ID_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "string",
            "description": "The ad account's id (1 to 18 digits), or a record path.",
        },
        {"type": "integer", "minimum": 0, "description": "The ad account's id."},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {
            **_CONST_SCHEMA,
            "properties": {"const": {"type": ["string", "integer"]}},
            "description": "The ad account's id as a constant.",
        },
    ]
}
"""``ad_account_id``: digits are the account itself; any other text is a record path."""

_KEY_DESCRIPTIONS: dict[str, str] = {
    "preset": "A built-in mapping to start from; the other keys override it.",
    "ad_account_id": (
        "The stream's ad account, overriding the top-level ad_account_id: its digits, or a "
        "value source (path, list of paths) of a record field holding them."
    ),
    "event_name": "A Pinterest event name; with event_name_from, the name for empty values.",
    "event_name_from": "Value source of a source event name, looked up in event_name_map.",
    "event_name_map": "Source name to Pinterest name, a built-in map name, or a list of those.",
    "event_name_fallback": "For names not in the map: custom, skip or as_is.",
    "action_source": "web, app_android, app_ios or offline; with action_source_from, the default.",
    "action_source_from": "Value source of the action source.",
    "action_source_map": "Source value to action source.",
    "event_time": "Value source of the event time (ISO-8601, datetime, epoch s or ms).",
    "event_id": (
        "Value source of the event id, or a template of record fields "
        '({"template": "checkout_{name}"}); derived from the record\'s key when absent.'
    ),
    "event_per_item": "Value source of an array: one event per element ($item.<path>).",
    "user_data": "Pinterest user_data key to value source.",
    "custom_data": "Pinterest custom_data key to value source.",
    "contents": "The contents array ('from') and each item's keys to value sources.",
    "content_id": "With a preset: product_id, variant_id or sku as the item id.",
    "skip_when": "Conditions on record fields; a record meeting any is skipped (counted).",
    "app_info": "Pinterest app_info key to value source; values beyond Pinterest's limits "
    "are left out.",
    "device_info": "Pinterest device_info key to value source; values beyond Pinterest's "
    "limits are left out.",
}


def _group_schema(group: str, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {
            f.name: {**_SOURCE_SCHEMA, "description": f.description}
            for f in FIELDS
            if f.group == group
        },
        "additionalProperties": False,
    }


def stream_mapping_schema() -> dict[str, Any]:
    """The JSON Schema of one ``streams.<stream>`` mapping, for ``--about`` and Meltano.

    It documents every key and field (the registry's descriptions). The parser
    (:mod:`.parse`) is what checks a mapping, with messages naming the setting.
    """
    names_schema = {
        "anyOf": [
            {"type": "string"},
            {"type": "object", "additionalProperties": {"type": "string"}},
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        ]
    }
    properties: dict[str, Any] = {
        "preset": {"type": "string", "enum": list(PRESETS)},
        "ad_account_id": _AD_ACCOUNT_ID_SCHEMA,
        "event_name": {"type": "string"},
        "event_name_from": dict(_SOURCE_SCHEMA),
        "event_name_map": names_schema,
        "event_name_fallback": {"type": "string", "enum": list(EVENT_NAME_FALLBACKS)},
        "action_source": {"type": "string", "enum": list(ACTION_SOURCES)},
        "action_source_from": dict(_SOURCE_SCHEMA),
        "action_source_map": {
            "type": "object",
            "additionalProperties": {"type": "string", "enum": list(ACTION_SOURCES)},
        },
        "event_time": dict(_SOURCE_SCHEMA),
        "event_id": {
            "anyOf": [
                *_SOURCE_SCHEMA["anyOf"],
                {
                    "type": "object",
                    "properties": {"template": {"type": "string"}},
                    "required": ["template"],
                    "additionalProperties": False,
                    "description": 'Text with field values in braces: "checkout_{name}".',
                },
            ]
        },
        "event_per_item": dict(_SOURCE_SCHEMA),
        "user_data": _group_schema(USER_DATA, _KEY_DESCRIPTIONS["user_data"]),
        "custom_data": _group_schema(CUSTOM_DATA, _KEY_DESCRIPTIONS["custom_data"]),
        "contents": _group_schema(CONTENTS, _KEY_DESCRIPTIONS["contents"]),
        "content_id": {
            "type": "string",
            "enum": sorted({mode for modes in CONTENT_ID_PATHS.values() for mode in modes}),
        },
        "skip_when": {
            "anyOf": [_CONDITION_SCHEMA, {"type": "array", "items": _CONDITION_SCHEMA}],
        },
        **{group: _group_schema(group, _KEY_DESCRIPTIONS[group]) for group in INFO_GROUPS},
    }
    properties["contents"]["properties"] = {
        "from": {**_SOURCE_SCHEMA, "description": "Value source of the items' array."},
        **properties["contents"]["properties"],
    }
    for key, description in _KEY_DESCRIPTIONS.items():
        properties[key] = {**properties[key], "description": description}
    for f in FIELDS:
        if f.group == EVENT:
            properties[f.name] = {**_SOURCE_SCHEMA, "description": f.description}
    assert tuple(properties) == STREAM_MAPPING_KEYS  # noqa: S101 - one list of keys
    return {"type": "object", "properties": properties, "additionalProperties": False}
