"""Compare the field registry with a Pinterest spec and name what differs (issue 24).

Run ``python -m tests.spec_drift [SPEC]``. ``SPEC`` is a path or URL of Pinterest's
``v5/openapi.json`` or ``.yaml`` (``latest`` is the one on pinterest/api-description's
``main``), or a file of the schema already resolved (``pinterest-events-request.schema.json``);
without it, the schema the tests use (:mod:`tests.pinterest_schema`).

It walks the events request schema (the event object, ``user_data`` and its alternatives,
``custom_data``, the ``contents`` items, ``app_info``, ``device_info`` and any object
Pinterest adds) and prints:

- ``new field``: in the spec, not in the registry (nor a mapping's own key);
- ``new enum value``: a value the spec allows (its ``enum``, or the `` - `value` `` list in a
  description, as for ``event_name`` and ``action_source``) that the registry lacks;
- ``extra enum value``: a value the registry allows that the spec does not list;
- ``missing field``: a registry field the spec does not have (a body with it would be
  refused: Pinterest's objects are ``additionalProperties: false``).

Drift in :data:`ALLOWED` is printed as allowed. Exit 0 when all drift is allowed, 1 when
some is not (a Pinterest release with a new field fails CI until someone decides: offer it
in ``pinterest/fields.py`` or allow it here with a reason), 2 when no spec was found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_pinterest_conversions.pinterest import vocabulary
from target_pinterest_conversions.pinterest.fields import (
    APP_INFO,
    CONTENTS,
    CUSTOM_DATA,
    DEVICE_INFO,
    EVENT,
    FIELDS,
    USER_DATA,
)
from tests.pinterest_schema import request_schema, resolve_refs

LATEST_URL = "https://raw.githubusercontent.com/pinterest/api-description/main/v5/openapi.json"

GROUPS: Mapping[str, str] = {
    "data[]": EVENT,
    "data[].user_data": USER_DATA,
    "data[].custom_data": CUSTOM_DATA,
    "data[].custom_data.contents[]": CONTENTS,
    "data[].app_info": APP_INFO,
    "data[].device_info": DEVICE_INFO,
}
"""Where each registry group is in the request body; other objects are reported by path."""

OWN_KEYS: Mapping[str, frozenset[str]] = {
    "": frozenset({"data"}),
    EVENT: frozenset(
        {"event_name", "action_source", "event_time", "event_id", USER_DATA, CUSTOM_DATA}
        | {APP_INFO, DEVICE_INFO}
    ),
    CUSTOM_DATA: frozenset({CONTENTS}),
}
"""Keys the target sends that are no registry field: a mapping's own keys and the objects."""

OWN_ENUMS: Mapping[tuple[str, str], frozenset[str]] = {
    (EVENT, "event_name"): vocabulary.PINTEREST_EVENT_NAMES,
    (EVENT, "action_source"): frozenset(vocabulary.ACTION_SOURCES),
}
"""The values the target knows for its own keys (the registry's fields carry ``enum``)."""

_DOCS_EVENT_NAME = "in Pinterest's developer docs, not in the spec's list; known, not warned about"

ALLOWED: Mapping[tuple[str, str], str] = {
    # Fields of Pinterest's spec the target deliberately does not send (mappings cannot set them).
    ("new field", "custom_data.np"): "Pinterest's own: 'for Pinterest internal use only'",
    ("new field", "custom_data.external_measurement_id"): "'only use when instructed' by Pinterest",
    ("new field", "custom_data.external_measurement_vendor_id"): (
        "'only use when instructed' by Pinterest"
    ),
    # Event names the target knows beyond the spec's 15 (vocabulary.PINTEREST_EVENT_NAMES);
    # event_name is free text in the schema, so a body with them is valid.
    ("extra enum value", "event.event_name=app_open"): _DOCS_EVENT_NAME,
    ("extra enum value", "event.event_name=contact"): _DOCS_EVENT_NAME,
    ("extra enum value", "event.event_name=customize_product"): _DOCS_EVENT_NAME,
    ("extra enum value", "event.event_name=find_location"): _DOCS_EVENT_NAME,
    ("extra enum value", "event.event_name=schedule"): _DOCS_EVENT_NAME,
    ("extra enum value", "event.event_name=start_trial"): _DOCS_EVENT_NAME,
    ("extra enum value", "event.event_name=submit_application"): _DOCS_EVENT_NAME,
}
"""Drift decided on: (kind, ``group.field`` or ``group.field=value``) and why it is fine.

Not here, on purpose: ``contents[].item_brand_id`` (and ``advertiser_tracking_enabled``),
sent by others but absent from Pinterest's newest published spec (5.23.0); the registry
adds them when the spec has them, and this check names them then."""


@dataclass(frozen=True, order=True)
class Drift:
    """One difference: ``kind`` and what, as ``group.field`` or ``group.field=value``."""

    kind: str
    what: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.what)

    @property
    def allowed(self) -> str | None:
        """Why this drift is fine, or None when nobody has decided on it."""
        return ALLOWED.get(self.key)


# The spec ---------------------------------------------------------------------------------


def _read(source: str) -> str:
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=60) as answer:  # noqa: S310 (http(s) only)
            return answer.read().decode("utf-8")  # type: ignore[no-any-return]
    return Path(source).read_text(encoding="utf-8")


def load_spec(source: str | None = None) -> tuple[dict[str, Any], str]:
    """The resolved ``ConversionEvents`` schema and a line saying where it came from.

    Without ``source``, the schema the tests use (:func:`tests.pinterest_schema.request_schema`).

    Raises:
        FileNotFoundError: no source was given and the tests have no schema.

    """
    if source is None:
        schema = request_schema()
        if schema is None:
            raise FileNotFoundError("no Pinterest request schema (see tests/pinterest_schema.py)")
        return schema, "the tests' schema (tests/pinterest_schema.py)"
    if source == "latest":
        source = LATEST_URL
    text = _read(source)
    if source.endswith((".yaml", ".yml")):
        import yaml

        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (a safe loader)
    else:
        document = json.loads(text)
    if "components" in document:  # Pinterest's openapi
        schemas = document["components"]["schemas"]
        version = document.get("info", {}).get("version", "?")
        return resolve_refs(schemas["ConversionEvents"], schemas), f"{source} (version {version})"
    return document.get("ConversionEvents", document), source


# Walking it -------------------------------------------------------------------------------


def _alternatives(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``node`` and the schemas it combines (anyOf, oneOf, allOf), depth first."""
    yield node
    for keyword in ("anyOf", "oneOf", "allOf"):
        for alternative in node.get(keyword, ()):
            if isinstance(alternative, dict):
                yield from _alternatives(alternative)


def _properties(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for alternative in _alternatives(node):
        merged.update(alternative.get("properties", {}))
    return merged


def _object_of(node: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The object schema a property holds (itself, or its list's items) and a path suffix."""
    for alternative in _alternatives(node):
        if _properties(alternative):
            return alternative, ""
        items = alternative.get("items")
        if isinstance(items, dict) and any(_properties(a) for a in _alternatives(items)):
            return items, "[]"
    return None


_LISTED = re.compile(r"^\s*-\s+`([^`]+)`\s*$", re.M)


def spec_enum(node: dict[str, Any]) -> frozenset[str] | None:
    """The values a property allows: its ``enum``, else its description's `` - `value` `` list."""
    for alternative in _alternatives(node):
        if "enum" in alternative:
            return frozenset(str(v) for v in alternative["enum"] if v is not None)
    listed = set()
    for alternative in _alternatives(node):
        listed |= set(_LISTED.findall(alternative.get("description", "")))
    return frozenset(listed) or None


def spec_objects(schema: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Every object of the request body, by group (or path), with its properties."""
    found: dict[str, dict[str, dict[str, Any]]] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        properties = _properties(node)
        found[GROUPS.get(path, path)] = properties
        for name, child in properties.items():
            inner = _object_of(child)
            if inner is not None:
                walk(inner[0], f"{path}.{name}{inner[1]}".lstrip("."))

    walk(schema, "")
    return found


# Comparing ---------------------------------------------------------------------------------


def registry_objects() -> dict[str, dict[str, frozenset[str] | None]]:
    """Each registry group's fields with their allowed values (None: any)."""
    groups: dict[str, dict[str, frozenset[str] | None]] = {g: {} for g in GROUPS.values()}
    for entry in FIELDS:
        groups[entry.group][entry.name] = frozenset(entry.enum) if entry.enum else None
    return groups


def compare(schema: dict[str, Any]) -> list[Drift]:
    """Every difference between the registry and ``schema``, sorted."""
    spec = spec_objects(schema)
    registry = registry_objects()
    drift: list[Drift] = []
    for group in sorted(set(spec) | set(registry)):
        theirs = spec.get(group, {})
        ours = registry.get(group, {})
        own = OWN_KEYS.get(group, frozenset())
        for name in sorted(set(theirs) - set(ours) - own):
            drift.append(Drift("new field", f"{group}.{name}"))
        for name in sorted(set(ours) - set(theirs)):
            drift.append(Drift("missing field", f"{group}.{name}"))
        for name in sorted(set(theirs) & (set(ours) | own)):
            allowed = spec_enum(theirs[name])
            known = ours.get(name) if name in ours else OWN_ENUMS.get((group, name))
            if allowed is None and known is None:
                continue
            allowed, known = allowed or frozenset(), known or frozenset()
            if not allowed and name in own:
                continue  # the spec no longer lists values: nothing to add
            for value in sorted(allowed - known):
                drift.append(Drift("new enum value", f"{group}.{name}={value}"))
            for value in sorted(known - allowed):
                drift.append(Drift("extra enum value", f"{group}.{name}={value}"))
    return sorted(drift)


def unlisted(drift: list[Drift]) -> list[Drift]:
    """The drift nobody has decided on: what fails the check."""
    return [d for d in drift if d.allowed is None]


def stale(drift: list[Drift]) -> list[tuple[str, str]]:
    """Entries of :data:`ALLOWED` that are no drift any more (they can go)."""
    found = {d.key for d in drift}
    return sorted(key for key in ALLOWED if key not in found)


def report(drift: list[Drift], source: str) -> str:
    """The check's output: what differs, what is allowed and why, and what to do."""
    lines = [f"Field registry against {source}:"]
    for d in drift:
        mark = f"allowed: {d.allowed}" if d.allowed else "NOT ALLOWED"
        lines.append(f"  {d.kind}: {d.what} ({mark})")
    for kind, what in stale(drift):
        lines.append(f"  no longer drift, can leave ALLOWED: {kind}: {what}")
    bad = unlisted(drift)
    if bad:
        lines.append(
            f"{len(bad)} difference(s) nobody decided on: offer them in "
            "target_pinterest_conversions/pinterest/fields.py (or vocabulary.py), or add "
            "them to ALLOWED in tests/spec_drift.py with the reason."
        )
    else:
        lines.append("No drift beyond the allowed.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the drift; 0 when all of it is allowed, 1 when not, 2 without a spec."""
    parser = argparse.ArgumentParser(prog="python -m tests.spec_drift", description=__doc__)
    parser.add_argument(
        "spec",
        nargs="?",
        help="openapi .json/.yaml path or URL, 'latest', or a resolved schema file",
    )
    args = parser.parse_args(argv)
    try:
        schema, source = load_spec(args.spec)
    except (OSError, ValueError, KeyError) as error:
        print(f"No Pinterest spec: {error}", file=sys.stderr)
        return 2
    drift = compare(schema)
    print(report(drift, source))
    return 1 if unlisted(drift) else 0


if __name__ == "__main__":
    sys.exit(main())
