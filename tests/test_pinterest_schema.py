"""Where the tests get Pinterest's request schema, and that they cannot lose it quietly."""

from __future__ import annotations

import json
import os

import pytest

from tests import pinterest_schema
from tests.pinterest_schema import SchemaMissing, request_schema, resolve_refs


def test_a_required_schema_that_is_missing_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(pinterest_schema, "REQUEST_SCHEMA", tmp_path / "absent.json")
    monkeypatch.delenv("PINTEREST_OPENAPI", raising=False)
    monkeypatch.delenv("PINTEREST_REQUEST_SCHEMA", raising=False)
    monkeypatch.setenv("REQUIRE_PINTEREST_SCHEMA", "1")
    with pytest.raises(SchemaMissing, match="PINTEREST_OPENAPI"):
        request_schema()
    monkeypatch.delenv("REQUIRE_PINTEREST_SCHEMA")
    assert request_schema() is None


def test_refs_are_resolved_with_the_keywords_beside_them():
    schemas = {
        "Event": {"type": "object", "properties": {"u": {"$ref": "#/components/schemas/U"}}},
        "U": {"type": "object", "anyOf": [{"$ref": "#/components/schemas/P", "required": ["em"]}]},
        "P": {"properties": {"em": {"type": "array"}}},
    }
    resolved = resolve_refs(schemas["Event"], schemas)
    assert resolved["properties"]["u"]["anyOf"] == [
        {"properties": {"em": {"type": "array"}}, "required": ["em"]},
    ]


@pytest.mark.skipif(
    not (os.environ.get("PINTEREST_OPENAPI") and pinterest_schema.shared_schema_path().exists()),
    reason="needs both Pinterest's published spec (PINTEREST_OPENAPI) and ../shared's copy",
)
def test_the_published_spec_and_the_shared_copy_agree():
    shared = json.loads(pinterest_schema.shared_schema_path().read_text())["ConversionEvents"]
    assert request_schema() == shared


def test_under_ci_the_schema_is_there():
    if not os.environ.get("REQUIRE_PINTEREST_SCHEMA"):
        pytest.skip("only where the schema is required (.ci/run, the GitHub workflow)")
    assert request_schema() is not None
