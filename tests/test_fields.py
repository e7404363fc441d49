"""The field registry is the one list of fields: Pinterest's schema, the code and the
README agree with it."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from target_pinterest_conversions.conversion import event as events
from target_pinterest_conversions.conversion import hashing, info, user_data
from target_pinterest_conversions.conversion._codegen import fastpath
from target_pinterest_conversions.mapping import keys as mapping
from target_pinterest_conversions.pinterest.fields import (
    APP_INFO,
    CONTENTS,
    CUSTOM_DATA,
    DEVICE_INFO,
    EVENT,
    FIELDS,
    INFO_GROUPS,
    USER_DATA,
    Field,
    names,
)
from tests.pinterest_schema import request_schema

README_PATH = Path(__file__).resolve().parents[1] / "README.md"
README = README_PATH.read_text()
SCHEMA = request_schema()


# The README's field tables, generated from the registry ---------------------------------

GROUP_TITLES: Mapping[str, str] = {
    USER_DATA: "`user_data`",
    CUSTOM_DATA: "`custom_data`",
    CONTENTS: "`contents` items",
    EVENT: "Event-level fields",
    APP_INFO: "`app_info`",
    DEVICE_INFO: "`device_info`",
}
"""The README heading of each group's table, in event order."""

_KIND_TEXT: Mapping[str, str] = {
    "plain": "plain (trimmed, not hashed)",
    "text": "text",
    "integer": "integer",
    "decimal": "decimal string",
    "currency": "currency (ISO-4217 code, upper-cased)",
    "text_list": "list of text",
    "boolean": 'boolean (`true`/`false`, `1`/`0`, `"yes"`/`"no"`)',
    "time": "Unix seconds (from ISO-8601 text, a datetime, or epoch seconds or milliseconds)",
}


def limits_text(entry: Field) -> str:
    """The limits of ``entry`` in words; empty when it has none."""
    parts = []
    if entry.max_length is not None:
        parts.append(f"at most {entry.max_length:,} characters")
    if entry.minimum is not None and entry.maximum is not None:
        parts.append(f"{entry.minimum:,} to {entry.maximum:,}")
    elif entry.minimum is not None:
        parts.append(f"at least {entry.minimum:,}")
    elif entry.maximum is not None:
        parts.append(f"at most {entry.maximum:,}")
    if entry.enum is not None:
        parts.append("one of " + ", ".join(f"`{value}`" for value in entry.enum) + " (any case)")
    if entry.max_items is not None:
        parts.append(f"at most {entry.max_items:,} items")
    return "; ".join(parts)


def read_as(entry: Field) -> str:
    """How a raw value of ``entry`` is typed, in words (the README's "read as" column)."""
    if entry.kind == "hashed":
        return f"hashed (`{entry.normalizer}` normalizer)"
    limits = limits_text(entry)
    return f"{_KIND_TEXT[entry.kind]}; {limits}" if limits else _KIND_TEXT[entry.kind]


def markdown_tables() -> str:
    """The README's field tables: a heading and a Markdown table per group, in order."""
    sections = []
    for group, title in GROUP_TITLES.items():
        rows = [
            f"| `{f.name}` | `{f.pinterest_type}` | {read_as(f)} | {f.description} |"
            for f in FIELDS
            if f.group == group
        ]
        header = ["| key | Pinterest type | read as | description |", "|:--|:--|:--|:--|"]
        sections.append("\n".join([f"#### {title}", "", *header, *rows]))
    return "\n\n".join(sections) + "\n"


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


EVENT_OWN_KEYS = {
    "event_name",
    "action_source",
    "event_time",
    "event_id",
    USER_DATA,
    CUSTOM_DATA,
    *INFO_GROUPS,
}
"""Event properties that are a mapping's own keys or objects, not event-level fields."""


@pytest.mark.skipif(SCHEMA is None, reason="Pinterest's request schema is not available")
@pytest.mark.parametrize("group", [USER_DATA, CUSTOM_DATA, CONTENTS, EVENT, *INFO_GROUPS])
def test_every_field_pinterest_has_in_a_group_is_in_the_registry(group):
    # A field Pinterest adds shows up here: offer it (registry) or say why not.
    missing = set(_group_properties(group)) - set(names(group)) - {"contents"}
    if group == EVENT:
        missing -= EVENT_OWN_KEYS
    assert missing <= set(NOT_OFFERED), missing


LIMITS = {
    "maxLength": "max_length",
    "minimum": "minimum",
    "maximum": "maximum",
    "enum": "enum",
    "maxItems": "max_items",
}
"""Pinterest's schema keywords that bound a value, and the registry's name for each."""

NOT_LIMITS = {"type", "description", "example", "items", "nullable", "format"}
"""Keywords of a field's schema that are no limit of its value (``format`` is int64,
held by the converters: see pinterest/limits.py)."""

KIND_TYPES = {
    "hashed": "array",
    "plain": "string",
    "text": "string",
    "currency": "string",
    "decimal": "string",
    "integer": "integer",
    "time": "integer",
    "text_list": "array",
    "boolean": "boolean",
}
"""The JSON type each registry kind's converter gives."""


@pytest.mark.skipif(SCHEMA is None, reason="Pinterest's request schema is not available")
@pytest.mark.parametrize("entry", FIELDS, ids=lambda f: f"{f.group}.{f.name}")
def test_every_registry_limit_is_pinterests(entry):
    node = _group_properties(entry.group)[entry.name]
    expected = {
        attr: (tuple(node[keyword]) if keyword == "enum" else node[keyword])
        if keyword in node
        else None
        for keyword, attr in LIMITS.items()
    }
    assert {attr: getattr(entry, attr) for attr in LIMITS.values()} == expected
    # A keyword Pinterest adds (a pattern, a minimum length, items' limits) fails here
    # until the registry holds it and the converters check it.
    unknown = set(node) - NOT_LIMITS - set(LIMITS) - {"minItems"}
    assert not unknown, unknown
    assert node.get("minItems", 0) == 0
    assert set(node.get("items", {})) <= {"type"}
    assert KIND_TYPES[entry.kind] == entry.pinterest_type


def test_the_limit_test_fails_when_the_registry_lacks_a_limit_or_a_field(monkeypatch):
    """The two tests above bite: a registry without a limit or a field does not pass."""
    if SCHEMA is None:
        pytest.skip("Pinterest's request schema is not available")
    entry = next(f for f in FIELDS if f.group == DEVICE_INFO and f.name == "timezone_abbr")
    loose = dataclasses.replace(entry, max_length=None)
    with pytest.raises(AssertionError):
        test_every_registry_limit_is_pinterests(loose)
    import target_pinterest_conversions.pinterest.fields as registry

    # names() reads the registry's FIELDS when called: a registry without the field.
    monkeypatch.setattr(registry, "FIELDS", tuple(f for f in FIELDS if f is not entry))
    with pytest.raises(AssertionError, match="timezone_abbr"):
        test_every_field_pinterest_has_in_a_group_is_in_the_registry(DEVICE_INFO)


def test_the_code_takes_its_field_lists_from_the_registry():
    assert names(USER_DATA, "hashed") == hashing.HASHED_KEYS
    assert names(USER_DATA, "plain") == user_data.PLAIN_KEYS
    assert set(hashing.NORMALIZERS) == set(names(USER_DATA, "hashed"))
    assert names(CUSTOM_DATA) == mapping.CUSTOM_DATA_KEYS
    assert names(CONTENTS) == mapping.CONTENT_ITEM_KEYS
    assert set(names(EVENT)) <= set(mapping.STREAM_MAPPING_KEYS)
    assert set(events.ITEM_CONVERTERS) == set(names(CONTENTS))
    for group in INFO_GROUPS:
        assert tuple(info.INFO_CONVERTERS[group]) == names(group) == mapping.INFO_KEYS[group]
        assert group in mapping.STREAM_MAPPING_KEYS
    for key in names(CUSTOM_DATA):
        assert callable(events.custom_converter(key))
    inline = {k: fastpath._kind(k, item=False) for k in names(CUSTOM_DATA)}
    assert inline["value"] == inline["predicted_ltv"] == "decimal"
    assert inline["num_items"] == "integer"


def _row(start: str) -> str:
    return next(line for line in README.splitlines() if line.startswith(start))


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to dashes."""
    kept = "".join(ch for ch in heading.strip().lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


MAPPING_ROWS = [
    ("| `user_data` |", USER_DATA, "#user_data"),
    ("| `custom_data` |", CUSTOM_DATA, "#custom_data"),
    ("| `contents` |", CONTENTS, "#contents-items"),
    ("| event-level fields |", EVENT, "#event-level-fields"),
    ("| `app_info` |", APP_INFO, "#app_info"),
    ("| `device_info` |", DEVICE_INFO, "#device_info"),
]
"""Rows of the README's "Keys of a mapping" table, the group each stands for, and the
anchor of that group's generated table."""


@pytest.mark.parametrize(
    ("start", "group", "anchor"), MAPPING_ROWS, ids=[g for _, g, _ in MAPPING_ROWS]
)
def test_the_readme_mapping_table_points_to_the_generated_fields_tables(start, group, anchor):
    row = _row(start)
    assert f"]({anchor})" in row
    anchors = {_slug(line.lstrip("#")) for line in README.splitlines() if line.startswith("#")}
    assert anchor[1:] in anchors, f"no README heading has the anchor {anchor}"
    # A hand-written list of names drifts from the registry; the generated table holds them.
    listed = set(re.findall(r"`([a-z_]+)`", _cells(row)[1]))
    assert not listed & set(names(group)), listed & set(names(group))


def test_the_readme_mapping_table_rows_have_two_cells():
    start = README.index("### Keys of a mapping")
    table = README[start : README.index("### Fields", start)]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) > 2
    assert [len(_cells(row)) for row in rows] == [2] * len(rows)


def test_the_fields_tables_list_every_registry_field_once_under_its_group():
    assert set(GROUP_TITLES) == {f.group for f in FIELDS}
    found, title = [], None
    for line in markdown_tables().splitlines():
        if line.startswith("#### "):
            title = line[5:]
        elif line.startswith("| `"):
            cells = _cells(line)
            assert len(cells) == 4, line
            found.append((title, cells[0].strip("`")))
    expected = [(GROUP_TITLES[g], f.name) for g in GROUP_TITLES for f in FIELDS if f.group == g]
    assert found == expected


@pytest.mark.parametrize("entry", FIELDS, ids=lambda f: f"{f.group}.{f.name}")
def test_every_field_has_a_one_line_description(entry):
    text = entry.description
    assert text[:1].isupper() or text.startswith("`"), text
    assert text.endswith(".")
    assert "\n" not in text
    assert "|" not in text


def test_the_readme_fields_tables_are_the_generated_ones():
    text = README_PATH.read_text()
    block = re.search(r"<!-- fields:start -->\n(.*?)<!-- fields:end -->", text, re.S)
    assert block, "README has no generated fields block"
    generated = markdown_tables()
    if os.environ.get("UPDATE_README"):
        README_PATH.write_text(text[: block.start(1)] + generated + text[block.end(1) :])
        pytest.fail(
            "README field tables rewritten (UPDATE_README); review, then run again without it"
        )
    assert block.group(1).splitlines() == generated.splitlines()


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
