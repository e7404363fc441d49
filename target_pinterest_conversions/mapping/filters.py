"""``skip_when``: per-stream conditions on record fields that leave a record out, parsed. Pure.

A skipped record is counted in the summary under its reason (the condition that held),
never dead-lettered and never sent, and STATE moves past it like past a sent one.

A condition is one of::

    {"path": "test", "equals": true}
    {"path": "sourceName", "in": ["pos", "shopify_draft_order"]}
    {"path": "sourceName", "not_in": ["web"]}
    {"path": "cancelledAt", "is": "present"}        # or absent, truthy, falsy
    {"any_of": [<condition>, ...]}
    {"all_of": [<condition>, ...]}

``skip_when`` holds one condition or a list of them; a list skips when any one holds.
Values compare by JSON value: ``true`` equals only a boolean true (not ``1``), numbers
equal by value (``2`` and ``2.0``), text exactly. *Present* is a value that is not empty
(not null, blank text, ``[]`` or ``{}``); *truthy* is present and not ``false`` or ``0``.
Conversion tests them on records (:mod:`~target_pinterest_conversions.conversion.rules`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from target_pinterest_conversions.mapping.spec import MappingConfigError, Source

_TESTS = ("present", "absent", "truthy", "falsy")
_OPERATORS = ("equals", "in", "not_in", "is")


@dataclass(frozen=True)
class Condition:
    """One test of a record field (``path`` set), or a combination (``parts`` set)."""

    text: str
    source: Source | None = None
    operator: str = ""
    operand: Any = None
    parts: tuple[Condition, ...] = ()

    def sources(self) -> list[Source]:
        """Every field source the condition reads."""
        if self.source is not None:
            return [self.source]
        return [src for part in self.parts for src in part.sources()]


@dataclass(frozen=True)
class SkipRule:
    """The parsed ``skip_when`` of a stream: conditions, any of which skips a record."""

    conditions: tuple[Condition, ...]

    def sources(self) -> list[Source]:
        """Every field source the rule reads."""
        return [src for condition in self.conditions for src in condition.sources()]


def parse_skip_when(
    spec: object, setting: str, parse_source: Callable[[object, str], Source]
) -> SkipRule:
    """Parse ``skip_when`` (one condition or a list of them).

    Raises:
        MappingConfigError: a condition is malformed; the message names the setting.

    """
    items = spec if isinstance(spec, list) else [spec]
    return SkipRule(
        tuple(_condition(item, f"{setting}[{i}]", parse_source) for i, item in enumerate(items))
    )


def _condition(
    spec: object, setting: str, parse_source: Callable[[object, str], Source]
) -> Condition:
    if not isinstance(spec, Mapping):
        raise MappingConfigError(f"{setting}: expected a condition object")
    for combinator in ("any_of", "all_of"):
        if combinator in spec:
            parts = spec[combinator]
            if set(spec) != {combinator} or not isinstance(parts, list) or not parts:
                raise MappingConfigError(
                    f"{setting}.{combinator}: expected a non-empty list of conditions"
                )
            conditions = tuple(
                _condition(part, f"{setting}.{combinator}[{i}]", parse_source)
                for i, part in enumerate(parts)
            )
            joiner = " and " if combinator == "all_of" else " or "
            text = "(" + joiner.join(c.text for c in conditions) + ")"
            return Condition(text=text, operator=combinator, parts=conditions)
    operators = [key for key in spec if key in _OPERATORS]
    extra = set(spec) - {"path", *_OPERATORS}
    if "path" not in spec or len(operators) != 1 or extra:
        raise MappingConfigError(
            f'{setting}: expected {{"path": ..., <one of {", ".join(_OPERATORS)}>: ...}}, '
            "or any_of / all_of"
        )
    path = spec["path"]
    if not isinstance(path, str):
        raise MappingConfigError(f"{setting}.path: expected a dotted path")
    source = parse_source(path, f"{setting}.path")
    (operator,) = operators
    operand = spec[operator]
    if operator == "is" and operand not in _TESTS:
        raise MappingConfigError(f"{setting}.is: expected one of {', '.join(_TESTS)}")
    if operator in ("in", "not_in") and not (
        isinstance(operand, list) and all(_is_scalar(v) for v in operand)
    ):
        raise MappingConfigError(f"{setting}.{operator}: expected a list of values")
    if operator == "equals" and not _is_scalar(operand):
        raise MappingConfigError(f"{setting}.equals: expected a text, number, boolean or null")
    return Condition(
        text=_describe(path, operator, operand), source=source, operator=operator, operand=operand
    )


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _describe(path: str, operator: str, operand: object) -> str:
    if operator == "is":
        return f"{path} is {operand}"
    return f"{path} {operator.replace('_', ' ')} {json.dumps(operand)}"
