"""meltano.yml's loader settings stay what ``--about`` says the target has.

Meltano shows meltano.yml's descriptions, labels and defaults (``meltano config list``,
the Hub), not the target's, so they drift unless held equal to the settings schema that
``--about`` prints. The SDK's own settings may carry this target's wording there (what
``batch_size_rows`` means for Pinterest), but only with a kind and default that agree.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from target_pinterest_conversions.settings import SDK_SETTINGS
from target_pinterest_conversions.target import TargetPinterestConversions
from tests.cli import command

ROOT = Path(__file__).resolve().parents[1]
LOADER = next(
    plugin
    for plugin in yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["loaders"]
    if plugin["name"] == TargetPinterestConversions.name
)
DECLARED: dict[str, dict[str, Any]] = {s["name"]: s for s in LOADER["settings"]}


def _about_schema() -> dict[str, Any]:
    """The settings schema ``--about`` prints: the target's own plus the SDK's built-ins."""
    schema = copy.deepcopy(TargetPinterestConversions.config_jsonschema)
    TargetPinterestConversions.append_builtin_config(schema)
    return schema


ABOUT = _about_schema()
SETTINGS: dict[str, dict[str, Any]] = ABOUT["properties"]

FLATTENED = ("batch_config", "faker_config")
"""SDK objects Meltano and the Hub list leaf by leaf (``batch_config.storage.root``), as
Meltano sets them; other objects (streams, stream maps) stay whole."""


def _leaves(name: str, prop: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if name.split(".")[0] in FLATTENED and "properties" in prop:
        return [
            leaf
            for child, sub in prop["properties"].items()
            for leaf in _leaves(f"{name}.{child}", sub)
        ]
    return [(name, prop)]


ABOUT_SETTINGS: dict[str, dict[str, Any]] = {
    leaf: sub for name, prop in SETTINGS.items() for leaf, sub in _leaves(name, prop)
}
"""``--about``'s settings as Meltano names them: every one is declared in meltano.yml."""

OWN = [name for name in SETTINGS if name not in SDK_SETTINGS]
OWN_DECLARED = [name for name in OWN if name in DECLARED]
KNOWN_DECLARED = [name for name in DECLARED if name in ABOUT_SETTINGS]
"""Settings to compare one by one; a missing or unknown one fails the two listing tests."""

KIND_BY_JSON_TYPE = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}
"""The Meltano kind of each JSON schema type, so that Meltano parses values from the
environment and ``meltano config set`` into what the target's schema accepts."""

MELTANO_SETTING_KEYS = frozenset(
    {
        "name",
        "aliases",
        "label",
        "value",
        "placeholder",
        "kind",
        "description",
        "tooltip",
        "documentation",
        "env",
        "value_processor",
        "value_post_processor",
        "oauth",
        "options",
        "docs",
        "hidden",
        "sensitive",
    },
)
"""The keys a Meltano setting definition may have (the Hub's base_setting schema)."""

MELTANO_KINDS = frozenset(
    {
        "oauth",
        "hidden",
        "password",
        "date_iso8601",
        "file",
        "email",
        "integer",
        "options",
        "object",
        "array",
        "boolean",
        "string",
        "decimal",
    },
)


@pytest.mark.cli
def test_the_settings_compared_here_are_what_about_prints():
    about = subprocess.run(
        [*command(), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(about)["settings"] == ABOUT


def json_types(prop: dict[str, Any]) -> set[str]:
    """The JSON types a setting may hold, null aside (the alternatives of a oneOf too)."""
    if "oneOf" in prop or "anyOf" in prop:
        return {t for option in prop.get("oneOf", prop.get("anyOf")) for t in json_types(option)}
    kinds = prop["type"]
    return {kinds} - {"null"} if isinstance(kinds, str) else set(kinds) - {"null"}


def _expected_kinds(prop: dict[str, Any]) -> set[str]:
    """The Meltano kinds that agree with one setting of the schema."""
    if "enum" in prop:
        return {"options"}
    kinds = {KIND_BY_JSON_TYPE[t] for t in json_types(prop)}
    if prop.get("secret"):
        return {*kinds, "password"}
    return kinds


def test_meltano_yml_lists_every_setting_the_target_defines():
    assert [name for name in OWN if name not in DECLARED] == []


def test_meltano_yml_lists_every_setting_about_prints_the_sdks_included():
    # Hidden or not, each is there: Meltano passes the target only the settings it knows.
    assert [name for name in ABOUT_SETTINGS if name not in DECLARED] == []
    assert len(DECLARED) == len(LOADER["settings"])  # no setting twice


def test_meltano_yml_lists_no_setting_the_target_does_not_have():
    assert [name for name in DECLARED if name not in ABOUT_SETTINGS] == []


@pytest.mark.parametrize("name", OWN_DECLARED)
def test_a_setting_has_the_description_and_label_of_about(name):
    declared, prop = DECLARED[name], SETTINGS[name]
    assert declared.get("description") == prop["description"]
    assert declared.get("label") == prop["title"]


@pytest.mark.parametrize("name", OWN_DECLARED)
def test_a_setting_has_the_default_of_about(name):
    # A value where --about has none would make Meltano send one the target never chose.
    assert DECLARED[name].get("value") == SETTINGS[name].get("default")


@pytest.mark.parametrize("name", KNOWN_DECLARED)
def test_a_setting_has_a_kind_that_agrees_with_its_json_type(name):
    declared, prop = DECLARED[name], ABOUT_SETTINGS[name]
    assert declared.get("kind") in _expected_kinds(prop), (declared.get("kind"), prop)
    if "enum" in prop:
        assert [o["value"] for o in declared["options"]] == prop["enum"]
    if "value" in declared and "default" in prop:
        assert declared["value"] == prop["default"]


@pytest.mark.parametrize("name", KNOWN_DECLARED)
def test_a_secret_is_sensitive_in_meltano_and_nothing_else_is(name):
    # Meltano redacts a sensitive setting and stores it in .env, never in meltano.yml.
    declared = DECLARED[name]
    hidden = declared.get("kind") == "password" or declared.get("sensitive") is True
    assert hidden == bool(ABOUT_SETTINGS[name].get("secret"))


def test_the_access_token_is_a_secret():
    assert SETTINGS["access_token"].get("secret") is True


@pytest.mark.parametrize("name", list(DECLARED))
def test_a_setting_definition_is_valid_for_meltano(name):
    declared = DECLARED[name]
    assert set(declared) <= MELTANO_SETTING_KEYS, set(declared) - MELTANO_SETTING_KEYS
    assert declared.get("kind") in MELTANO_KINDS


def test_the_loaders_config_and_setting_groups_name_only_settings():
    assert set(LOADER.get("config", {})) <= set(SETTINGS)
    required = set(ABOUT.get("required", []))
    for group in LOADER["settings_group_validation"]:
        assert set(group) <= set(DECLARED), group
        assert required <= set(group), group


def test_the_capabilities_are_the_ones_about_declares():
    # Meltano 4.4's meltano.yml schema has no validate-records capability.
    declared = [str(c.value) for c in TargetPinterestConversions.capabilities]
    assert LOADER["capabilities"] == [c for c in declared if c != "validate-records"]
    assert "batch" in LOADER["capabilities"]
