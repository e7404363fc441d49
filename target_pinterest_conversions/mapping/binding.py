"""Bind a stream's mapping to the stream's SCHEMA: every path must exist. Pure: no I/O.

When a SCHEMA message arrives, each path the mapping reads is looked up in the schema.
A path the user wrote that the schema lacks is an error naming the stream, the setting
and the nearest field names, raised before any record of the stream is read. A preset's
path that the schema lacks is dropped quietly, since one preset serves several versions
of a tap; a preset left without any event time is an error.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from target_pinterest_conversions.mapping.filters import Condition, SkipRule
from target_pinterest_conversions.mapping.keys import ITEM
from target_pinterest_conversions.mapping.spec import (
    ContentsSpec,
    MappingConfigError,
    NameRule,
    Source,
    StreamMapping,
)


class MappingSchemaError(MappingConfigError):
    """A mapping path does not exist in the stream's schema."""


def _alternatives(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = [node]
    for keyword in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(keyword) or []:
            if isinstance(sub, Mapping):
                out += _alternatives(sub)
    return out


def find_path(schema: Mapping[str, Any], segments: tuple[str, ...]) -> tuple[bool, str, list[str]]:
    """Look ``segments`` up in ``schema``.

    Returns:
        ``(True, "", [])`` when the path exists or the schema cannot tell (a free-form
        object); otherwise ``(False, missing_dotted_prefix, names_at_that_level)``.

    """
    nodes = [schema]
    for depth, segment in enumerate(segments):
        found: list[Mapping[str, Any]] = []
        names: list[str] = []
        open_ended = False
        for node in (alt for n in nodes for alt in _alternatives(n)):
            if segment == "[]" or segment.isdigit():
                items = node.get("items")
                if isinstance(items, Mapping):
                    found.append(items)
                elif segment == "[]" and isinstance(node.get("properties"), Mapping):
                    # `contents.from` may name a single object, read as a list of one.
                    found.append(node)
                continue
            properties = node.get("properties")
            if isinstance(properties, Mapping):
                names += list(properties)
                if segment in properties and isinstance(properties[segment], Mapping):
                    found.append(properties[segment])
            elif "object" in _types(node) or not _types(node):
                open_ended = True
        if not found:
            if open_ended:
                return True, "", []
            return False, ".".join(segments[: depth + 1]), sorted(set(names))
        nodes = found
    return True, "", []


def path_types(schema: Mapping[str, Any], segments: tuple[str, ...]) -> frozenset[str] | None:
    """The JSON types the schema allows at ``segments``; ``None`` when it does not say.

    ``None`` also for a path :func:`find_path` reports: that is its error, not this one's.
    """
    nodes = [schema]
    for segment in segments:
        found: list[Mapping[str, Any]] = []
        for node in (alt for n in nodes for alt in _alternatives(n)):
            if segment == "[]" or segment.isdigit():
                items = node.get("items")
                if isinstance(items, Mapping):
                    found.append(items)
                continue
            properties = node.get("properties")
            if isinstance(properties, Mapping) and isinstance(properties.get(segment), Mapping):
                found.append(properties[segment])
        if not found:
            return None
        nodes = found
    kinds = _union_types(nodes)
    return None if kinds is None else frozenset(kinds)


def _node_types(node: Mapping[str, Any]) -> set[str] | None:
    """A node's JSON types, through ``anyOf``/``oneOf``; ``None`` when any part is untyped."""
    if _types(node):
        return set(_types(node))
    parts = [sub for key in ("anyOf", "oneOf") for sub in node.get(key) or []]
    if not parts or not all(isinstance(sub, Mapping) for sub in parts):
        return None
    return _union_types(parts)


def _union_types(nodes: Iterable[Mapping[str, Any]]) -> set[str] | None:
    """The JSON types of all ``nodes`` together; ``None`` when any is untyped."""
    kinds: set[str] = set()
    for node in nodes:
        node_kinds = _node_types(node)
        if node_kinds is None:
            return None
        kinds |= node_kinds
    return kinds


def _types(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return [kind]
    return list(kind) if isinstance(kind, list) else []


def _nearest(missing: str, names: list[str]) -> str:
    prefix, _, last = missing.rpartition(".")
    close = difflib.get_close_matches(last, names, n=3, cutoff=0.5) or names[:5]
    if not close:
        return "the schema has no fields there"
    full = [f"{prefix}.{name}" if prefix else name for name in close]
    return "nearest: " + ", ".join(full)


class _Binder:
    def __init__(self, mapping: StreamMapping, schema: Mapping[str, Any]) -> None:
        self.mapping = mapping
        self.schema = schema
        self.errors: list[str] = []
        self.dropped: list[str] = []
        self.item_arrays = mapping.event_per_item.paths if mapping.event_per_item else ()

    def _expand(self, path: tuple[str, ...], base: tuple[str, ...]) -> list[tuple[str, ...]]:
        full = (*base, *path)
        if full[0] == ITEM:
            return [(*array, "[]", *full[1:]) for array in self.item_arrays] or [full]
        return [full]

    def source(self, setting: str, src: Source | None, base: tuple[str, ...] = ()) -> Source | None:
        if src is None or src.is_const:
            return src
        kept = []
        params = []
        for index, path in enumerate(src.paths):
            problems = [
                (missing, names)
                for full in self._expand(path, base)
                for ok, missing, names in [find_path(self.schema, full)]
                if not ok
            ]
            if not problems:
                kept.append(path)
                params.append(src.url_param(index))
            elif src.from_preset:
                self.dropped.append(f"{setting} ({'.'.join(path)})")
            else:
                missing, names = problems[0]
                self.errors.append(
                    f"{setting}: stream '{self.mapping.stream}' has no field "
                    f"'{missing.replace('.[]', '[]')}' in its schema ({_nearest(missing, names)})",
                )
        if not kept and src.from_preset:
            return None
        if not kept:
            return src  # every path is an error, reported above
        url_params = tuple(params) if any(params) else ()
        return dataclasses.replace(src, paths=tuple(kept), url_params=url_params)

    def group(
        self, prefix: str, group: Mapping[str, Source], base: tuple[str, ...] = ()
    ) -> dict[str, Source]:
        out = {}
        for key, src in group.items():
            bound = self.source(f"{prefix}.{key}", src, base)
            if bound is not None:
                out[key] = bound
        return out

    def rule(self, setting: str, rule: NameRule | None) -> NameRule | None:
        if rule is None or rule.source is None:
            return rule
        bound = self.source(setting, rule.source)
        if bound is None:
            if rule.const is None:
                self.errors.append(
                    f"{setting}: the stream's schema has none of the preset's fields"
                )
                return rule
            return dataclasses.replace(rule, source=None)
        return dataclasses.replace(rule, source=bound)

    def skip_rule(self, setting: str, rule: SkipRule | None) -> SkipRule | None:
        if rule is None:
            return None
        kept = [c for c in (self.condition(setting, c) for c in rule.conditions) if c]
        return SkipRule(tuple(kept)) if kept else None

    def condition(self, setting: str, condition: Condition) -> Condition | None:
        """The condition bound; ``None`` for a preset's on a field the schema lacks."""
        if condition.source is None:
            parts = [self.condition(setting, part) for part in condition.parts]
            if any(part is None for part in parts):
                return None
            return dataclasses.replace(condition, parts=tuple(p for p in parts if p))
        source = self.source(setting, condition.source)
        if source is None:
            return None
        if condition.operator in ("equals", "in", "not_in"):
            self.comparable(setting, condition, source)
        return dataclasses.replace(condition, source=source)

    def comparable(self, setting: str, condition: Condition, source: Source) -> None:
        """Report a value the field can never equal: ``true`` against a text column.

        Values compare by JSON type (filters.py), so such a condition would silently
        never skip (or, with ``not_in``, skip every record).
        """
        values = [condition.operand] if condition.operator == "equals" else condition.operand
        for path in source.paths:
            for full in self._expand(path, ()):
                kinds = path_types(self.schema, full)
                wrong = [v for v in values if kinds is not None and not _can_equal(v, kinds)]
                if not wrong or kinds is None:
                    continue
                field = ".".join(full).replace(".[]", "[]")
                column = " or ".join(sorted(kinds - {"null"}) or ["null"])
                whose = "the preset's condition" if source.from_preset else "the condition"
                self.errors.append(
                    f"{setting}: stream '{self.mapping.stream}': {whose} '{condition.text}' "
                    f"compares '{field}' with {_json(wrong[0])}, a {_json_type(wrong[0])}, but "
                    f"the schema types '{field}' as {column}: no record can match"
                    f"{_comparable_hint(wrong[0], kinds)}",
                )
                return

    def contents(self, prefix: str, spec: ContentsSpec | None) -> ContentsSpec | None:
        if spec is None:
            return None
        array = self.source(f"{prefix}.from", spec.array)
        if array is None:
            return None
        items = {}
        for path in array.paths:
            items.update(self.group(prefix, spec.items, (*path, "[]")))
        return ContentsSpec(array=array, items=items)


def _can_equal(value: object, kinds: frozenset[str]) -> bool:
    """Tell whether a field of JSON types ``kinds`` can hold a value equal to ``value``."""
    if value is None:
        return True  # an absent field reads as null, whatever its type
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, int):
        return bool(kinds & {"integer", "number"})
    if isinstance(value, float):
        return "number" in kinds or ("integer" in kinds and value.is_integer())
    return "string" in kinds


def _json(value: object) -> str:
    return json.dumps(value)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "text"


def _comparable_hint(value: object, kinds: frozenset[str]) -> str:
    """Suggest the value written as the field's type holds it, e.g. ``"true"`` for text."""
    if "string" in kinds and isinstance(value, (bool, int, float)):
        return f"; to compare with the text, write {_json(_json(value))}"
    if isinstance(value, str):
        word = value.strip().lower()
        if "boolean" in kinds and word in ("true", "false"):
            return f"; to compare with the boolean, write {word}"
        if kinds & {"integer", "number"}:
            try:
                number = float(word)
            except ValueError:
                return ""
            shown = int(number) if number.is_integer() else number
            return f"; to compare with the number, write {shown}"
    return ""


def bind_mapping(
    mapping: StreamMapping, schema: Mapping[str, Any]
) -> tuple[StreamMapping, list[str]]:
    """Check ``mapping`` against ``schema`` and drop the preset paths it lacks.

    Returns:
        The bound mapping and the preset paths dropped, as ``setting (path)`` notes.

    Raises:
        MappingSchemaError: a path given by the user is not in the schema, or a preset
            found no event time; the message names every such path.

    """
    binder = _Binder(mapping, schema)
    prefix = f"streams.{mapping.stream}"
    per_item = binder.source(f"{prefix}.event_per_item", mapping.event_per_item)
    event_time = binder.source(f"{prefix}.event_time", mapping.event_time)
    if event_time is None:
        binder.errors.append(
            f"{prefix}.event_time: the stream's schema has none of the preset's fields"
        )
        event_time = mapping.event_time
    bound = dataclasses.replace(
        mapping,
        event_per_item=per_item,
        event_time=event_time,
        event_id=binder.source(f"{prefix}.event_id", mapping.event_id),
        event_name_rule=binder.rule(f"{prefix}.event_name_from", mapping.event_name_rule),
        action_source_rule=binder.rule(f"{prefix}.action_source_from", mapping.action_source_rule),
        user_data=binder.group(f"{prefix}.user_data", mapping.user_data),
        custom_data=binder.group(f"{prefix}.custom_data", mapping.custom_data),
        extra=binder.group(prefix, mapping.extra),
        contents=binder.contents(f"{prefix}.contents", mapping.contents),
        skip_when=binder.skip_rule(f"{prefix}.skip_when", mapping.skip_when),
        info={
            group: binder.group(f"{prefix}.{group}", sources)
            for group, sources in mapping.info.items()
        },
        ad_account_id=binder.source(f"{prefix}.ad_account_id", mapping.ad_account_id),
    )
    if binder.errors:
        raise MappingSchemaError("; ".join(binder.errors))
    return bound, binder.dropped
