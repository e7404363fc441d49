"""Checks an event must pass before it is sent. Pure: no I/O.

The rules come from Pinterest's request schema (required fields, the ``user_data``
match-key rule, at most 1000 events a request) and from its documented time window:
``event_time`` may not be in the future, and events older than 7 days are rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.validators import validator_for

from target_pinterest_conversions.vocabulary import ACTION_SOURCES, PINTEREST_EVENT_NAMES

MAX_EVENT_AGE_SECONDS = 7 * 24 * 3600

KNOWN_EVENT_NAMES = PINTEREST_EVENT_NAMES

REQUIRED_FIELDS: tuple[str, ...] = (
    "event_name",
    "action_source",
    "event_time",
    "event_id",
    "user_data",
)


def has_match_key(user_data: Mapping[str, Any]) -> bool:
    """Pinterest needs ``em``, ``hashed_maids``, or both IP address and user agent."""
    return bool(
        user_data.get("em")
        or user_data.get("hashed_maids")
        or (user_data.get("client_ip_address") and user_data.get("client_user_agent")),
    )


def validate_event(event: Mapping[str, Any], now: int) -> list[str]:
    """Return the reasons ``event`` cannot be sent; an empty list means it can.

    Args:
        event: a fully built event, ``user_data`` already hashed.
        now: the current Unix time in seconds.

    """
    # Every event is checked: one expression settles the usual valid one, and only
    # an event it cannot settle is examined rule by rule.
    user_data = event.get("user_data")
    event_time = event.get("event_time")
    if (
        event.get("event_name")
        and event.get("event_id")
        and event.get("action_source") in ACTION_SOURCES
        and type(user_data) is dict
        and (
            user_data.get("em")
            or user_data.get("hashed_maids")
            or (user_data.get("client_ip_address") and user_data.get("client_user_agent"))
        )
        and type(event_time) is int
        and now - MAX_EVENT_AGE_SECONDS <= event_time <= now
    ):
        return []
    return _reasons(event, now)


def _reasons(event: Mapping[str, Any], now: int) -> list[str]:
    """Check ``event`` rule by rule; the reasons it breaks them."""
    reasons = [f"{name} is missing" for name in REQUIRED_FIELDS if event.get(name) in (None, "")]
    if reasons:
        return reasons
    if event["action_source"] not in ACTION_SOURCES:
        reasons.append("action_source is not one of " + ", ".join(ACTION_SOURCES))
    if not has_match_key(event["user_data"]):
        reasons.append(
            "user_data has no match key: needs em, hashed_maids, "
            "or both client_ip_address and client_user_agent",
        )
    event_time = event["event_time"]
    if event_time > now:
        reasons.append("event_time is in the future")
    elif now - event_time > MAX_EVENT_AGE_SECONDS:
        reasons.append("event_time is more than 7 days old")
    return reasons


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


# Keywords that do not constrain a value, so a type check alone settles the schema.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
        "$schema",
        "$id",
    },
)
# The Python types that certainly satisfy each JSON type, as the SDK's readers decode.
_EXACT_TYPES: Mapping[str, tuple[type, ...]] = {
    "null": (type(None),),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float, Decimal),
    "object": (dict,),
    "array": (list,),
}


def compile_type_check(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """Compile a schema of ``type``, ``properties`` and ``items`` into a fast check.

    The check returns True only when the instance certainly satisfies the schema
    (exact Python types, as decoded from JSON); False means "ask jsonschema", which
    gives the verdict and the reasons. Returns None when the schema uses any other
    constraint, which this check does not cover.
    """
    namespace: dict[str, Any] = {"_ABSENT": object()}
    lines = ["def check(d0):"]
    if not _check_code(schema, "d0", 1, namespace, lines):
        return None
    lines.append("    return True")
    exec("\n".join(lines), namespace)  # noqa: S102 - names and repr() literals only
    return namespace["check"]  # type: ignore[no-any-return]


def _check_code(
    schema: object, var: str, depth: int, namespace: dict[str, Any], lines: list[str]
) -> bool:
    """Append lines that return False unless ``var`` certainly satisfies ``schema``."""
    if not isinstance(schema, Mapping):
        return schema is True
    if any(k not in _ANNOTATIONS and k not in ("type", "properties", "items") for k in schema):
        return False
    indent = "    " * depth
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or any(n not in _EXACT_TYPES for n in names):
            return False
        allowed = node_classes(schema)
        name = f"t{len(namespace)}"
        namespace[name] = allowed
        lines.append(f"{indent}if {var}.__class__ not in {name}: return False")
    properties = schema.get("properties", {})
    items = schema.get("items")
    if not isinstance(properties, Mapping):
        return False
    if items is not None and not isinstance(items, Mapping):
        return False
    child = f"d{depth}"
    if properties:
        lines.append(f"{indent}if {var}.__class__ is dict:")
        for prop, sub in properties.items():
            if _admits_null(sub):
                # Absent reads as None, which the node admits: one lookup settles both.
                lines.append(f"{indent}    {child} = {var}.get({prop!r})")
                if not _check_code(sub, child, depth + 1, namespace, lines):
                    return False
                continue
            lines.append(f"{indent}    {child} = {var}.get({prop!r}, _ABSENT)")
            lines.append(f"{indent}    if {child} is not _ABSENT:")
            if not _check_code(sub, child, depth + 2, namespace, lines):
                return False
            lines.append(f"{indent}        pass")
    if items:
        lines.append(f"{indent}if {var}.__class__ is list:")
        lines.append(f"{indent}    for {child} in {var}:")
        if not _check_code(items, child, depth + 2, namespace, lines):
            return False
        lines.append(f"{indent}        pass")
    return True


def node_classes(schema: object) -> tuple[type, ...] | None:
    """Return the Python classes a node's ``type`` admits; ``None`` when it sets no type."""
    if not isinstance(schema, Mapping):
        return None
    types = schema.get("type")
    if types is None:
        return None
    names = [types] if isinstance(types, str) else types
    return tuple({t for n in names for t in _EXACT_TYPES[n]})


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


def _admits_null(schema: object) -> bool:
    """Tell whether a node of ``type``/``properties``/``items`` accepts a null value."""
    if not isinstance(schema, Mapping):
        return schema is True
    types = schema.get("type")
    return types is None or types == "null" or (isinstance(types, list) and "null" in types)


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
