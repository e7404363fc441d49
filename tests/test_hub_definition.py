"""The Meltano Hub definition (plugin/loaders/target-pinterest-conversions.yml) stays right.

It must validate against the Hub's own JSON Schema for loaders, and say what ``--about``
says: every setting the target has (the nested SDK objects ``batch_config`` and
``faker_config`` as one setting per leaf, ``a.b.c``, as the Hub lists them), with the kind,
label, description and default of the settings schema, the token ``sensitive``, and the
capabilities the target declares. meltano.yml's loader must agree with it setting by setting.

The Hub's schema is reference data and is not copied here: it is read from
``MELTANO_HUB_SCHEMAS`` (a folder in the Hub's layout, ``plugin_definitions/`` and
``common/``), else from ``../shared/reference/meltano-hub-schemas`` beside the checkout.
With ``REQUIRE_MELTANO_HUB_SCHEMAS`` set (``.ci/run`` sets it when it finds the schema), a
missing schema fails the validation test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from target_pinterest_conversions.settings import SDK_SETTINGS
from target_pinterest_conversions.target import TargetPinterestConversions
from tests.test_meltano_yml import ABOUT, KIND_BY_JSON_TYPE, LOADER, SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DEFINITION_PATH = ROOT / "plugin" / "loaders" / "target-pinterest-conversions.yml"
DEFINITION: dict[str, Any] = yaml.safe_load(DEFINITION_PATH.read_text(encoding="utf-8"))
DEFINED: dict[str, dict[str, Any]] = {s["name"]: s for s in DEFINITION["settings"]}
HUB_SCHEMAS = ROOT.parent / "shared" / "reference" / "meltano-hub-schemas"

FLATTENED = ("batch_config", "faker_config")
"""SDK objects the Hub lists leaf by leaf; other objects (streams, stream maps) stay whole."""

UNUSED_SDK_SETTINGS = frozenset(
    {
        "add_record_metadata",
        "load_method",
        "batch_config.encoding.format",
        "batch_config.encoding.compression",
        "batch_config.storage.prefix",
        "faker_config.seed",
        "faker_config.locale",
    },
)
"""SDK settings that do nothing here: hidden in the definition, each saying why."""


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
"""``--about``'s settings as the definition names them."""


def _json_types(prop: dict[str, Any]) -> set[str]:
    if "oneOf" in prop or "anyOf" in prop:
        return {t for option in prop.get("oneOf", prop.get("anyOf")) for t in _json_types(option)}
    kinds = prop["type"]
    return {kinds} - {"null"} if isinstance(kinds, str) else set(kinds) - {"null"}


def _expected_kinds(prop: dict[str, Any]) -> set[str]:
    if "enum" in prop:
        return {"options"}
    return {KIND_BY_JSON_TYPE[t] for t in _json_types(prop)}


def hub_validator() -> Draft7Validator | None:
    """The Hub's loader schema with its relative ``$ref`` s resolved, or None when absent."""
    folder = Path(os.environ.get("MELTANO_HUB_SCHEMAS") or HUB_SCHEMAS)
    root = folder / "plugin_definitions" / "loaders.schema.json"
    if not root.exists():
        if os.environ.get("REQUIRE_MELTANO_HUB_SCHEMAS"):
            pytest.fail(f"the Meltano Hub's schema is required but {root} is not there")
        return None
    files = {path.name: path for path in folder.rglob("*.schema.json")}

    def retrieve(uri: str) -> Resource:
        # The Hub's $ids and $refs are relative ("../common/common.schema.json"); every
        # file name is unique, so a reference is resolved by its file name.
        path = files.get(uri.rsplit("/", 1)[-1])
        if path is None:
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))

    schema = json.loads(root.read_text(encoding="utf-8"))
    return Draft7Validator(schema, registry=Registry(retrieve=retrieve))  # type: ignore[call-arg]


def test_the_definition_validates_against_the_hubs_loader_schema():
    validator = hub_validator()
    if validator is None:
        pytest.skip("the Meltano Hub's schema is not beside the checkout (../shared)")
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(DEFINITION)]
    assert errors == []
    # The references were followed: a wrong kind or capability is caught.
    broken = {**DEFINITION, "settings": [{"name": "x", "kind": "text"}], "capabilities": ["x"]}
    assert len(list(validator.iter_errors(broken))) == 2


def test_the_definition_names_this_plugin():
    target = TargetPinterestConversions
    assert DEFINITION["name"] == LOADER["name"] == target.name
    assert DEFINITION["namespace"] == LOADER["namespace"]
    assert DEFINITION["executable"] == LOADER["executable"]
    assert DEFINITION["pip_url"] == target.package_name  # the PyPI package
    owner = DEFINITION["variant"]
    assert DEFINITION["repo"] == f"https://github.com/{owner}/{target.name}"
    assert DEFINITION["docs"].startswith(DEFINITION["repo"])
    assert DEFINITION["maintenance_status"] in ("active", "beta")
    assert "meltano_sdk" in DEFINITION["keywords"]


def test_the_capabilities_and_python_versions_are_what_about_declares():
    target = TargetPinterestConversions
    assert DEFINITION["capabilities"] == [str(c.value) for c in target.capabilities]
    assert DEFINITION["supported_python_versions"] == target.get_supported_python_versions()


def test_the_definition_lists_every_setting_about_has_and_no_other():
    assert sorted(DEFINED) == sorted(ABOUT_SETTINGS)
    assert len(DEFINED) == len(DEFINITION["settings"])  # no setting twice


@pytest.mark.parametrize("name", list(ABOUT_SETTINGS))
def test_a_setting_has_the_kind_and_default_of_about(name):
    defined, prop = DEFINED[name], ABOUT_SETTINGS[name]
    assert defined.get("kind") in _expected_kinds(prop), (defined.get("kind"), prop)
    if "enum" in prop:
        assert [o["value"] for o in defined["options"]] == prop["enum"]
    # A value where --about has none would make Meltano send one the target never chose.
    assert defined.get("value") == json.loads(json.dumps(prop.get("default"), default=str))


@pytest.mark.parametrize("name", list(ABOUT_SETTINGS))
def test_a_setting_has_the_label_and_description_of_about(name):
    defined, prop = DEFINED[name], ABOUT_SETTINGS[name]
    if "title" in prop:
        assert defined.get("label") == prop["title"]
    else:
        assert defined.get("label") == name.replace("_", " ").title()
    if name.split(".")[0] not in SDK_SETTINGS:
        assert defined.get("description") == prop["description"]
    else:
        # The SDK's own settings may say what they do here, as meltano.yml does.
        assert defined.get("description"), name


@pytest.mark.parametrize("name", list(ABOUT_SETTINGS))
def test_only_unused_sdk_settings_are_hidden_and_they_say_so(name):
    defined = DEFINED[name]
    assert defined.get("hidden", False) == (name in UNUSED_SDK_SETTINGS)
    if name in UNUSED_SDK_SETTINGS:
        assert re.match(r"Ignored;|.*Faker is not installed", defined["description"]), name


@pytest.mark.parametrize("name", list(ABOUT_SETTINGS))
def test_only_the_secret_is_sensitive(name):
    defined = DEFINED[name]
    assert defined.get("sensitive", False) == bool(ABOUT_SETTINGS[name].get("secret"))
    assert defined.get("kind") != "password"  # deprecated in favour of sensitive


def test_the_setting_groups_are_meltano_ymls_and_name_the_required_settings():
    assert DEFINITION["settings_group_validation"] == LOADER["settings_group_validation"]
    for group in DEFINITION["settings_group_validation"]:
        assert set(ABOUT.get("required", [])) <= set(group) <= set(DEFINED)


@pytest.mark.parametrize("name", [s["name"] for s in LOADER["settings"]])
def test_meltano_yml_declares_a_setting_as_the_definition_does(name):
    assert next(s for s in LOADER["settings"] if s["name"] == name) == DEFINED[name]


def test_meltano_yml_has_the_definitions_capabilities_but_validate_records():
    # Meltano 4.4's meltano.yml schema has no validate-records capability; the Hub's has.
    assert LOADER["capabilities"] == [
        c for c in DEFINITION["capabilities"] if c != "validate-records"
    ]


def test_the_readme_adds_the_loader_from_this_file_on_main_and_shows_its_block():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    owner, name = DEFINITION["variant"], DEFINITION["name"]
    raw = (
        f"https://raw.githubusercontent.com/{owner}/{name}/main/{DEFINITION_PATH.relative_to(ROOT)}"
    )
    assert f"meltano add --plugin-type loader {name} --from-ref {raw}\n" in readme
    section = readme[readme.index("\n### In any Meltano project\n") :]
    block = re.search(r"^```yaml\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert block
    (loader,) = yaml.safe_load(block.group(1))["plugins"]["loaders"]
    for key, value in loader.items():
        if key not in ("settings", "config"):
            assert value == DEFINITION[key], key
    assert set(loader["config"]) <= set(DEFINED)
