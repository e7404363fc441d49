"""The drift check (``python -m tests.spec_drift``) finds nothing undecided in the spec the
tests use, and names a new field, a new enum value and a missing field when there are some."""

from __future__ import annotations

import copy
import json

import pytest

from target_pinterest_conversions.pinterest.fields import CONTENTS, names
from tests import spec_drift
from tests.pinterest_schema import request_schema
from tests.test_fields import NOT_OFFERED

SCHEMA = request_schema()
needs_schema = pytest.mark.skipif(
    SCHEMA is None, reason="Pinterest's request schema is not available"
)


def _event(schema: dict) -> dict:
    return schema["properties"]["data"]["items"]["properties"]


@needs_schema
def test_the_registry_has_no_undecided_drift_from_the_tests_spec(capsys):
    drift = spec_drift.compare(SCHEMA)
    assert spec_drift.unlisted(drift) == []
    assert spec_drift.stale(drift) == [], "ALLOWED holds entries that are no drift any more"
    assert {f"custom_data.{name}" for name in NOT_OFFERED} <= {
        d.what for d in drift if d.kind == "new field"
    }
    assert spec_drift.main([]) == 0
    assert "No drift beyond the allowed." in capsys.readouterr().out


@needs_schema
def test_item_brand_id_is_not_in_the_spec_so_not_in_the_registry():
    # Pinterest's newest published spec (5.23.0) has no contents[].item_brand_id; bodies
    # are checked against it (additionalProperties: false), so the registry must not send it.
    contents = spec_drift.spec_objects(SCHEMA)[CONTENTS]
    assert "item_brand_id" not in contents
    assert "item_brand_id" not in names(CONTENTS)


@needs_schema
def test_a_new_field_a_new_enum_value_and_a_missing_field_are_named(tmp_path, capsys):
    newer = copy.deepcopy(SCHEMA)
    event = _event(newer)
    contents = event["custom_data"]["properties"]["contents"]["items"]["properties"]
    contents["item_brand_id"] = {"type": "string"}
    event["device_info"]["properties"]["form_factor"]["enum"].append("glasses")
    event["event_name"]["description"] += "\n- `purchase`"
    event["consent"] = {"type": "object", "properties": {"ad_storage": {"type": "boolean"}}}
    del event["app_info"]["properties"]["window_width"]

    found = {(d.kind, d.what) for d in spec_drift.unlisted(spec_drift.compare(newer))}
    assert found == {
        ("new field", "contents.item_brand_id"),
        ("new enum value", "device_info.form_factor=glasses"),
        ("new enum value", "event.event_name=purchase"),
        ("new field", "event.consent"),
        ("new field", "data[].consent.ad_storage"),
        ("missing field", "app_info.window_width"),
    }

    path = tmp_path / "newer.schema.json"
    path.write_text(json.dumps({"ConversionEvents": newer}))
    assert spec_drift.main([str(path)]) == 1
    out = capsys.readouterr().out
    for line in (
        "new field: contents.item_brand_id (NOT ALLOWED)",
        "new enum value: device_info.form_factor=glasses (NOT ALLOWED)",
        "new enum value: event.event_name=purchase (NOT ALLOWED)",
        "missing field: app_info.window_width (NOT ALLOWED)",
        "6 difference(s) nobody decided on",
    ):
        assert line in out


@needs_schema
def test_an_enum_value_the_spec_drops_is_named():
    older = copy.deepcopy(SCHEMA)
    _event(older)["device_info"]["properties"]["os_family"]["enum"].remove("bsd")
    _event(older)["action_source"]["description"] = _event(older)["action_source"][
        "description"
    ].replace("- `offline`", "")
    found = {(d.kind, d.what) for d in spec_drift.unlisted(spec_drift.compare(older))}
    assert found == {
        ("extra enum value", "device_info.os_family=bsd"),
        ("extra enum value", "event.action_source=offline"),
    }


def test_an_openapi_file_is_read_with_its_refs_resolved(tmp_path, capsys):
    openapi = {
        "info": {"version": "9.9.9"},
        "components": {
            "schemas": {
                "ConversionEvents": {
                    "type": "object",
                    "properties": {"data": {"type": "array", "items": {"$ref": "#/E"}}},
                },
                "E": {
                    "type": "object",
                    "properties": {
                        "event_name": {"type": "string"},
                        "brand_new": {"type": "string", "enum": ["a"]},
                    },
                },
            }
        },
    }
    path = tmp_path / "openapi.yaml"
    path.write_text(json.dumps(openapi))  # JSON is YAML
    schema, source = spec_drift.load_spec(str(path))
    assert source.endswith("(version 9.9.9)")
    drift = spec_drift.compare(schema)
    assert spec_drift.Drift("new field", "event.brand_new") in drift
    assert spec_drift.Drift("missing field", "custom_data.value") in drift
    assert spec_drift.main([str(path)]) == 1
    assert spec_drift.main([str(tmp_path / "absent.json")]) == 2
