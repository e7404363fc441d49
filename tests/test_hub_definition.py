"""The Meltano Hub definition (plugin/loaders/target-pinterest-conversions.yml) stays right.

It must validate against the Hub's own JSON Schema for loaders, and say what ``--about``
says: every setting the target has (the nested SDK objects ``batch_config`` and
``faker_config`` as one setting per leaf, ``a.b.c``, as the Hub lists them), with the kind,
label, description and default of the settings schema, the token ``sensitive``, and the
capabilities the target declares. meltano.yml's loader must agree with it setting by setting.

The Hub's schema is reference data and is not copied here: it is read from
``MELTANO_HUB_SCHEMAS`` (a folder in the Hub's layout, ``plugin_definitions/`` and
``common/``), else from ``../shared/reference/meltano-hub-schemas`` beside the checkout.
Without ../shared (on GitHub), ``.ci/run`` downloads meltano/hub's ``schemas/`` files at the
commit pinned in tests/hub_schemas.py. With ``REQUIRE_MELTANO_HUB_SCHEMAS`` set (``.ci/run``
sets it when it finds or downloads the schema), a missing schema fails the validation test
instead of skipping it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import posixpath
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from target_pinterest_conversions.settings import SDK_SETTINGS
from target_pinterest_conversions.target import TargetPinterestConversions
from tests import hub_schemas
from tests.test_meltano_yml import ABOUT, ABOUT_SETTINGS, KIND_BY_JSON_TYPE, LOADER, json_types

ROOT = Path(__file__).resolve().parents[1]
DEFINITION_PATH = ROOT / "plugin" / "loaders" / "target-pinterest-conversions.yml"
DEFINITION: dict[str, Any] = yaml.safe_load(DEFINITION_PATH.read_text(encoding="utf-8"))
DEFINED: dict[str, dict[str, Any]] = {s["name"]: s for s in DEFINITION["settings"]}
HUB_SCHEMAS = ROOT.parent / "shared" / "reference" / "meltano-hub-schemas"

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


def _expected_kinds(prop: dict[str, Any]) -> set[str]:
    if "enum" in prop:
        return {"options"}
    return {KIND_BY_JSON_TYPE[t] for t in json_types(prop)}


def hub_schemas_folder() -> Path:
    """Where the Hub's schemas are looked for (they may be absent)."""
    return Path(os.environ.get("MELTANO_HUB_SCHEMAS") or HUB_SCHEMAS)


def hub_validator(folder: Path | None = None) -> Draft7Validator | None:
    """The Hub's loader schema with its relative ``$ref`` s resolved, or None when absent."""
    folder = folder or hub_schemas_folder()
    root = folder / hub_schemas.FILES[0]
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


def _required_hub_folder() -> Path:
    folder = hub_schemas_folder()
    if not (folder / hub_schemas.FILES[0]).exists():
        if os.environ.get("REQUIRE_MELTANO_HUB_SCHEMAS"):
            pytest.fail(f"the Meltano Hub's schema is required but {folder} has none")
        pytest.skip("the Meltano Hub's schema is not beside the checkout (../shared)")
    return folder


def test_the_pinned_files_are_the_loader_schema_and_every_file_it_refers_to():
    folder = _required_hub_folder()
    reached: set[str] = set()
    todo = [hub_schemas.FILES[0]]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        text = (folder / name).read_text(encoding="utf-8")
        for ref in re.findall(r'"\$ref"\s*:\s*"([^"#]+)', text):
            todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(name), ref)))
    assert sorted(reached) == sorted(hub_schemas.FILES)


def test_the_pin_is_the_commit_the_shared_copy_was_taken_from():
    readme = HUB_SCHEMAS / "README.md"
    if not readme.exists():
        pytest.skip("no ../shared copy of the Hub's schemas to compare with")
    match = re.search(r"meltano/hub, commit ([0-9a-f]{7,40})", readme.read_text(encoding="utf-8"))
    assert match
    assert hub_schemas.PINNED_COMMIT.startswith(match.group(1))
    assert re.fullmatch(r"[0-9a-f]{40}", hub_schemas.PINNED_COMMIT)


def test_ci_downloads_the_pinned_schemas_without_shared_and_then_requires_them():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    fetch = re.search(
        r"^elif \.venv/bin/python tests/hub_schemas\.py (\S+); then\n(.*)$", ci, re.MULTILINE
    )
    assert fetch, ".ci/run does not download the Hub's schemas"
    folder, then = fetch.groups()
    assert f'MELTANO_HUB_SCHEMAS="$PWD/{folder}"' in then
    assert "REQUIRE_MELTANO_HUB_SCHEMAS=1" in then
    # The pin is written in tests/hub_schemas.py alone.
    for path in (ROOT / ".ci" / "run", *(ROOT / ".github" / "workflows").glob("*.yml")):
        assert hub_schemas.PINNED_COMMIT[:12] not in path.read_text(encoding="utf-8"), path
    assert hub_schemas.PINNED_COMMIT in hub_schemas.BASE_URL


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def _serve(folder: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def test_the_downloaded_schemas_are_in_the_hubs_layout_and_validate_the_definition(tmp_path):
    base_url, server = _serve(_required_hub_folder())
    try:
        hub_schemas.download(tmp_path / "hub", base_url=base_url, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(str(p.relative_to(tmp_path / "hub")) for p in tmp_path.rglob("*.json")) == sorted(
        hub_schemas.FILES
    )
    validator = hub_validator(tmp_path / "hub")
    assert validator is not None
    assert list(validator.iter_errors(DEFINITION)) == []


def test_a_failed_download_writes_nothing(tmp_path):
    served = tmp_path / "served"
    for name in hub_schemas.FILES[:-1]:  # the last one is missing: 404
        (served / name).parent.mkdir(parents=True, exist_ok=True)
        (served / name).write_text("{}", encoding="utf-8")
    base_url, server = _serve(served)
    try:
        with pytest.raises(OSError, match="404"):
            hub_schemas.download(tmp_path / "hub", base_url=base_url, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert not (tmp_path / "hub").exists()


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
