"""Pinterest's published request schema, for the tests that check every request body.

Where it comes from, in order:

- ``PINTEREST_OPENAPI``: a path to Pinterest's own ``v5/openapi.json`` (the GitHub
  workflow downloads it from pinterest/api-description at :data:`PINNED_COMMIT`); the
  ``ConversionEvents`` schema is taken from it with its ``$ref`` s resolved;
- ``PINTEREST_REQUEST_SCHEMA``, or ``../shared/reference/pinterest-events-request.schema.json``
  beside the checkout: the same schema already resolved (``.ci/run`` also finds it beside
  the checkout a clone was made from).

With ``REQUIRE_PINTEREST_SCHEMA`` set (``.ci/run`` and the workflow set it), a missing
schema is an error, never a silent skip. The schema is OpenAPI 3.0 (``nullable: true``);
it is turned into JSON Schema draft 7 here. It is reference data and is not copied into
this repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

SHARED = Path(__file__).resolve().parents[2] / "shared"
REQUEST_SCHEMA = SHARED / "reference" / "pinterest-events-request.schema.json"
PINNED_COMMIT = "c05b18971472342ebdf4bafc15fea8a91c78bf79"
"""pinterest/api-description at release 5.23.0, the version the schema above was taken from."""
OPENAPI_URL = (
    f"https://raw.githubusercontent.com/pinterest/api-description/{PINNED_COMMIT}/v5/openapi.json"
)


class SchemaMissing(RuntimeError):
    """Pinterest's schema is required (REQUIRE_PINTEREST_SCHEMA) but was not found."""


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


def resolve_refs(node: Any, schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline ``#/components/schemas/X`` references; keywords beside a ``$ref`` are kept.

    Pinterest's spec puts ``required`` beside ``$ref`` in the user_data alternatives
    (one match key each), so they are merged into the referenced schema.
    """
    if isinstance(node, list):
        return [resolve_refs(n, schemas, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            raise ValueError(f"recursive schema {name}")
        target = resolve_refs(schemas[name], schemas, (*seen, name))
        siblings = {k: resolve_refs(v, schemas, seen) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    return {k: resolve_refs(v, schemas, seen) for k, v in node.items()}


def shared_schema_path() -> Path:
    """Where the already resolved copy of the schema is looked for."""
    return Path(os.environ.get("PINTEREST_REQUEST_SCHEMA") or REQUEST_SCHEMA)


def request_schema() -> dict[str, Any] | None:
    """Pinterest's ``ConversionEvents`` schema, resolved; None when none is available.

    Raises:
        SchemaMissing: ``REQUIRE_PINTEREST_SCHEMA`` is set and no schema was found.

    """
    openapi = os.environ.get("PINTEREST_OPENAPI")
    if openapi:
        spec = json.loads(Path(openapi).read_text(encoding="utf-8"))
        schemas = spec["components"]["schemas"]
        return resolve_refs(schemas["ConversionEvents"], schemas)  # type: ignore[no-any-return]
    shared = shared_schema_path()
    if shared.exists():
        return json.loads(shared.read_text(encoding="utf-8"))["ConversionEvents"]  # type: ignore[no-any-return]
    if os.environ.get("REQUIRE_PINTEREST_SCHEMA"):
        raise SchemaMissing(
            f"Pinterest's request schema is required but neither PINTEREST_OPENAPI nor "
            f"{shared_schema_path()} is there; download {OPENAPI_URL} and set PINTEREST_OPENAPI",
        )
    return None


def load_request_validator() -> Draft7Validator | None:
    """Return a validator for request bodies, or None when no schema is available."""
    schema = request_schema()
    if schema is None:
        return None
    return Draft7Validator(openapi_to_jsonschema(schema))
