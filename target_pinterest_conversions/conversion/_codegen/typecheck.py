"""The generated type check of a pruned stream schema. Pure.

Taps' schemas constrain types only, along the mapped paths; a check generated from them
answers "certainly valid?" many times faster than a general validator, which then only
explains the rare record that is not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from target_pinterest_conversions.conversion._codegen.emit import define_function

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
    "number": (Decimal, int, float),
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
    return define_function(lines, namespace, "check")


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
    # Null last: a class found at the first place costs an identity test, one found
    # later a rich comparison with each class before it.
    names = sorted(names, key=lambda n: n == "null")
    return tuple(dict.fromkeys(t for n in names for t in _EXACT_TYPES[n]))


def _admits_null(schema: object) -> bool:
    """Tell whether a node of ``type``/``properties``/``items`` accepts a null value."""
    if not isinstance(schema, Mapping):
        return schema is True
    types = schema.get("type")
    return types is None or types == "null" or (isinstance(types, list) and "null" in types)
