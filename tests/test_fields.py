"""The field registry is the one list of fields: Pinterest's schema, the code and the
README agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from target_pinterest_conversions.codegen import fastpath
from target_pinterest_conversions.conversion import event as events
from target_pinterest_conversions.conversion import hashing, user_data
from target_pinterest_conversions.mapping import keys as mapping
from target_pinterest_conversions.pinterest.fields import (
    CONTENTS,
    CUSTOM_DATA,
    EVENT,
    FIELDS,
    USER_DATA,
    names,
)
from tests.pinterest_schema import request_schema

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SCHEMA = request_schema()


def _event_properties() -> dict:
    assert SCHEMA is not None
    return SCHEMA["properties"]["data"]["items"]["properties"]


def _group_properties(group: str) -> dict:
    event = _event_properties()
    if group == EVENT:
        return event
    if group == USER_DATA:
        user_data = event["user_data"]
        merged: dict = dict(user_data.get("properties", {}))
        for alternative in user_data.get("anyOf", []):
            merged.update(alternative.get("properties", {}))
        return merged
    if group == CONTENTS:
        return event["custom_data"]["properties"]["contents"]["items"]["properties"]
    return event[group]["properties"]


def _types(node: dict) -> set[str]:
    kind = node.get("type")
    return {kind} if isinstance(kind, str) else set(kind or ())


@pytest.mark.skipif(SCHEMA is None, reason="Pinterest's request schema is not available")
@pytest.mark.parametrize("entry", FIELDS, ids=lambda f: f"{f.group}.{f.name}")
def test_every_registry_field_is_in_pinterests_schema_with_its_type(entry):
    properties = _group_properties(entry.group)
    assert entry.name in properties, f"{entry.group}.{entry.name} is not in Pinterest's schema"
    assert entry.pinterest_type in _types(properties[entry.name])
    if entry.kind == "hashed":
        assert _types(properties[entry.name]["items"]) == {"string"}


NOT_OFFERED = {
    "np": "Pinterest's own: 'for Pinterest internal use only'",
    "external_measurement_id": "'only use when instructed' by Pinterest",
    "external_measurement_vendor_id": "'only use when instructed' by Pinterest",
}
"""custom_data fields of Pinterest's schema that mappings deliberately do not offer."""


@pytest.mark.skipif(SCHEMA is None, reason="Pinterest's request schema is not available")
@pytest.mark.parametrize("group", [USER_DATA, CUSTOM_DATA, CONTENTS])
def test_every_field_pinterest_has_in_a_group_is_in_the_registry(group):
    # A field Pinterest adds shows up here: offer it (registry) or say why not.
    missing = set(_group_properties(group)) - set(names(group)) - {"contents"}
    assert missing <= set(NOT_OFFERED), missing


def test_the_code_takes_its_field_lists_from_the_registry():
    assert names(USER_DATA, "hashed") == hashing.HASHED_KEYS
    assert names(USER_DATA, "plain") == user_data.PLAIN_KEYS
    assert set(hashing.NORMALIZERS) == set(names(USER_DATA, "hashed"))
    assert names(CUSTOM_DATA) == mapping.CUSTOM_DATA_KEYS
    assert names(CONTENTS) == mapping.CONTENT_ITEM_KEYS
    assert set(names(EVENT)) <= set(mapping.STREAM_MAPPING_KEYS)
    assert set(events.ITEM_CONVERTERS) == set(names(CONTENTS))
    assert set(names(EVENT, "boolean")) == events.BOOLEAN_FIELDS
    for key in names(CUSTOM_DATA):
        assert callable(events.custom_converter(key))
    inline = {k: fastpath._kind(k, item=False) for k in names(CUSTOM_DATA)}
    assert inline["value"] == inline["predicted_ltv"] == "decimal"
    assert inline["num_items"] == "integer"


def _row(start: str) -> str:
    return next(line for line in README.splitlines() if line.startswith(start))


def test_the_readme_mapping_table_lists_exactly_the_registry_fields():
    user_row = _row("| `user_data` |")
    assert set(re.findall(r"`([a-z_]+)`", user_row.split("|")[2])) - {"_epik", "epik"} == set(
        names(USER_DATA)
    )
    custom_row = _row("| `custom_data` |")
    assert set(re.findall(r"`([a-z_]+)`", custom_row.split("|")[2])) == set(names(CUSTOM_DATA))
    contents_row = _row("| `contents` |")
    item_keys = set(re.findall(r'"([a-z_]+)": \.\.\.', contents_row))
    assert item_keys == set(names(CONTENTS))
    boolean_row = _row("| `opt_out`")
    assert set(re.findall(r"`([a-z_]+)`", boolean_row.split("|")[1])) == set(
        names(EVENT, "boolean")
    )
    text_row = _row("| `partner_name`")
    assert set(re.findall(r"`([a-z_]+)`", text_row.split("|")[1])) == set(names(EVENT, "text"))


def test_the_readme_normalization_table_covers_every_user_data_key():
    start = README.index("### How personal data is normalized before hashing")
    table = README[start : README.index("## What is checked before sending", start)]
    listed = {
        key
        for line in table.splitlines()
        if line.startswith("| `")
        for key in re.findall(r"`([a-z_]+)`", line.split("|")[1])
    }
    assert listed == set(names(USER_DATA))
