"""Pinterest's published request schema, read from ../shared when it is there.

The schema is OpenAPI 3.0 (``nullable: true``); it is turned into JSON Schema draft 7
here. It is reference data and is not copied into this repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

SHARED = Path(__file__).resolve().parents[2] / "shared"
REQUEST_SCHEMA = SHARED / "reference" / "pinterest-events-request.schema.json"


def openapi_to_jsonschema(node: Any) -> Any:
    """Turn OpenAPI's ``nullable: true`` into a JSON Schema that also allows null."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def load_request_validator() -> Draft7Validator | None:
    """Return a validator for request bodies, or None when ../shared is absent."""
    if not REQUEST_SCHEMA.exists():
        return None
    schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))["ConversionEvents"]
    return Draft7Validator(openapi_to_jsonschema(schema))
