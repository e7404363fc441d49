"""A stream's SCHEMA along the paths its mapping reads: the record check. Pure.

Fields the mapping never reads cannot spoil an event, so a tap's looseness there does
not cost a conversion: :class:`MappedFieldsValidator` prunes the stream schema to the
mapped paths and checks records against that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.validators import validator_for

from target_pinterest_conversions.conversion._codegen.typecheck import (
    compile_type_check,
    node_classes,
)


class MappedFieldsValidator:
    """Checks a record against its stream's schema, but only along the paths the mapping reads.

    Fields the mapping never reads cannot spoil an event, so a tap's looseness there
    does not cost a conversion. ``format`` and ``multipleOf`` keywords are not checked
    here: the event builder parses times and writes numbers itself, and names the field
    when it cannot. Errors name the field and the rule, never the value.
    """

    def __init__(self, schema: Mapping[str, Any], paths: Iterable[str]) -> None:
        tree: dict[str, Any] = {}
        for path in paths:
            node = tree
            for segment in path.split("."):
                node = node.setdefault(segment, {})
        pruned = prune_schema(schema, tree)
        validator_class = validator_for(schema, default=Draft7Validator)
        self._validator = validator_class(pruned)
        # A compiled check answers "valid?" many times faster; jsonschema only
        # explains the rare record that is not. Schemas of types alone (what taps
        # emit) get our own check; others get fastjsonschema's.
        self._certainly_valid = compile_type_check(pruned)
        # The schema along the mapped paths when it constrains types only: code that
        # reads those paths can then check them as it goes (see `guards`).
        self.type_schema: Mapping[str, Any] | None = (
            pruned if self._certainly_valid is not None else None
        )
        self._fast: Callable[[Any], Any] | None = None
        if self._certainly_valid is None:
            try:
                self._fast = fastjsonschema.compile(pruned)
            except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError):
                self._fast = None

    def errors(self, record: Mapping[str, Any], limit: int = 3) -> list[str]:
        """Return up to ``limit`` value-free reasons the record breaks the schema."""
        if self._certainly_valid is not None:
            if self._certainly_valid(record):
                return []
        elif self._fast is not None:
            try:
                self._fast(record)
            except fastjsonschema.JsonSchemaValueException:
                pass
            except _CHECK_FAILURES:
                pass  # jsonschema gives the verdict
            else:
                return []
        reasons = []
        try:
            for error in self._validator.iter_errors(record):
                where = ".".join(str(p) for p in error.absolute_path) or "record"
                reasons.append(
                    f"field '{where}' does not match the stream schema "
                    f"({error.validator}: {_rule(error.validator, error.validator_value)})",
                )
                if len(reasons) >= limit:
                    break
        except _CHECK_FAILURES as exc:
            # A value a rule cannot be computed on (a NaN, 1e999999 against a bound):
            # the record is refused with a reason rather than stopping the run.
            reasons.append(
                f"a mapped field could not be checked against the stream schema "
                f"({type(exc).__name__})"
            )
        return reasons


# What a keyword's check raises on a value it cannot compute with (Decimal arithmetic,
# NaN and infinity to int, text that cannot be encoded).
_CHECK_FAILURES = (ArithmeticError, TypeError, ValueError)


_KEEP_OUT = frozenset(
    {
        "properties",
        "items",
        "anyOf",
        "oneOf",
        "allOf",
        "required",
        "additionalProperties",
        "patternProperties",
        "format",
        # A tap's precision (1e-38 for a numeric column), which no value's event depends
        # on; both validators also fail on it with Decimal values (an error, not a verdict).
        "multipleOf",
        "$schema",
        "definitions",
        "$defs",
    },
)


def prune_schema(schema: Any, tree: Mapping[str, Any]) -> Any:
    """Keep only the parts of ``schema`` along the paths in ``tree``.

    ``tree`` nests path segments; ``[]`` or a number descends into array items. A leaf
    keeps its node's own keywords (type, enum, bounds) but not its children's.
    """
    if not isinstance(schema, Mapping):
        return schema
    out = {k: v for k, v in schema.items() if k not in _KEEP_OUT}
    for keyword in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(keyword), list):
            out[keyword] = [prune_schema(s, tree) for s in schema[keyword]]
    if not tree:
        return out
    properties = schema.get("properties")
    if "[]" in tree and "items" not in schema and isinstance(properties, Mapping):
        # `contents.from` may name a single object, read as a list of one.
        tree = _merge({k: v for k, v in tree.items() if k != "[]"}, tree["[]"])
    if isinstance(properties, Mapping):
        out["properties"] = {
            name: prune_schema(properties[name], sub)
            for name, sub in tree.items()
            if name in properties
        }
    items = schema.get("items")
    if isinstance(items, Mapping):
        item_tree: dict[str, Any] = {}
        for name, sub in tree.items():
            if name == "[]" or name.isdigit():
                item_tree = _merge(item_tree, sub)
        out["items"] = prune_schema(items, item_tree)
    return out


def schema_at(schema: object, path: Sequence[str]) -> object:
    """Return the node of ``schema`` that values at ``path`` are checked against.

    ``[]`` steps into array items (or stays on an object node, which ``contents.from``
    may name: see :func:`prune_schema`); a step the schema does not describe gives
    ``True``, which admits anything.
    """
    node = schema
    for segment in path:
        if not isinstance(node, Mapping):
            return node
        if segment == "[]":
            if "items" in node:
                node = node["items"]
            elif not isinstance(node.get("properties"), Mapping):
                return True
            continue
        properties = node.get("properties")
        if not isinstance(properties, Mapping) or segment not in properties:
            return True
        node = properties[segment]
    return node


def guards(type_schema: Mapping[str, Any]) -> Callable[[Sequence[str]], tuple[type, ...] | None]:
    """Return ``path -> classes admitted there`` for a schema of types only.

    A value whose class is in the answer at every step of every mapped path passes
    :meth:`MappedFieldsValidator.errors`, as its compiled check tests the same classes.
    """

    def classes(path: Sequence[str]) -> tuple[type, ...] | None:
        return node_classes(schema_at(type_schema, path))

    return classes


def _merge(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two path trees."""
    out = dict(left)
    for key, sub in right.items():
        out[key] = _merge(out[key], sub) if key in out else sub
    return out


def _rule(keyword: str, value: object) -> str:
    if keyword in ("type", "enum", "minimum", "maximum", "maxLength", "minLength", "pattern"):
        return str(value)[:120]
    return "see schema"
