"""A mapping's rules applied to records: event name and action source tables, ``skip_when``. Pure.

The mapping holds them as parsed data (:mod:`..mapping.spec`, :mod:`..mapping.filters`);
here each becomes a function of the record, reading its fields with the generated getters
of :mod:`._codegen.emit`. The extractor and the fast path call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from target_pinterest_conversions.conversion._codegen.emit import compile_getter
from target_pinterest_conversions.conversion.values import is_empty
from target_pinterest_conversions.mapping.filters import Condition, SkipRule
from target_pinterest_conversions.mapping.spec import NameRule
from target_pinterest_conversions.pinterest.limits import InvalidText
from target_pinterest_conversions.pinterest.vocabulary import ACTION_SOURCES, name_key

Resolved = tuple["str | None", "str | None", bool]
"""``(value, reason, skipped)``; ``value`` is None when there is no event."""


def name_resolver(rule: NameRule) -> Callable[[Mapping[str, Any]], Resolved]:
    """Return ``record -> (value, reason, skipped)`` for an event name or action source rule."""
    if rule.source is None:
        const = rule.const
        return lambda record: (const, None, False)
    get = compile_getter(rule.source)
    return lambda record: resolve_name(rule, get(record))


def resolve_name(rule: NameRule, raw: object) -> Resolved:
    """Return ``(value, reason, skipped)`` for ``raw``, the value of the rule's field."""
    if not isinstance(raw, (str, int)) or isinstance(raw, bool) or not str(raw).strip():
        if rule.const is not None:
            return rule.const, None, False
        return None, f"{rule.label} field is empty", False
    text = str(raw).strip()
    mapped = rule.table.get(name_key(text))
    if mapped is not None:
        return mapped, None, False
    if isinstance(raw, InvalidText):
        # Read as an empty field: no request, reason or file can hold its text.
        if rule.const is not None:
            return rule.const, None, False
        reason = f"{rule.label} field is not valid Unicode (it holds a lone surrogate)"
        return None, reason, False
    if rule.fallback == "as_is":
        return text, None, False
    if rule.fallback == "custom":
        return "custom", None, False
    if rule.fallback == "skip":
        return None, f"{rule.label} '{text[:60]}' is not mapped", True
    if rule.const is not None:
        return rule.const, None, False
    return None, f"{rule.label} '{text[:60]}' is not one of {', '.join(ACTION_SOURCES)}", False


def skip_reason(rule: SkipRule) -> Callable[[Mapping[str, Any]], str | None]:
    """Return ``record -> why it is skipped`` (the first condition that holds), else ``None``."""
    tests = [
        (condition_test(condition), f"skip_when: {condition.text}") for condition in rule.conditions
    ]

    def reason(record: Mapping[str, Any]) -> str | None:
        for holds, text in tests:
            if holds(record):
                return text
        return None

    return reason


def condition_test(condition: Condition) -> Callable[[Mapping[str, Any]], bool]:
    """Return ``record -> whether the condition holds for it``."""
    if condition.source is None:
        parts = [condition_test(part) for part in condition.parts]
        if condition.operator == "all_of":
            return lambda record: all(part(record) for part in parts)
        return lambda record: any(part(record) for part in parts)
    get = compile_getter(condition.source)
    test = value_test(condition)
    return lambda record: test(get(record))


def value_test(condition: Condition) -> Callable[[object], bool]:
    """Return ``value -> whether a field condition holds``, given the value its field reads.

    The fast path reads the field itself and calls this test; :func:`condition_test`
    reads it with its own getter.
    """
    operator, operand = condition.operator, condition.operand
    if operator == "equals":
        if isinstance(operand, bool) or not isinstance(operand, (int, float, Decimal)):
            # What _same comes to for an operand that is no number: one class, one value.
            kind = type(operand)
            return lambda value: value.__class__ is kind and value == operand
        return lambda value: _same(value, operand)
    if operator == "in":
        return lambda value: any(_same(value, option) for option in operand)
    if operator == "not_in":
        return lambda value: not any(_same(value, option) for option in operand)
    return _TEST_FUNCTIONS[operand]


def _same(value: object, operand: object) -> bool:
    if isinstance(value, bool) or isinstance(operand, bool):
        return type(value) is type(operand) and value == operand
    if isinstance(value, (int, float, Decimal)) and isinstance(operand, (int, float, Decimal)):
        return Decimal(str(value)) == Decimal(str(operand))
    return type(value) is type(operand) and value == operand


def _truthy(value: object) -> bool:
    if is_empty(value) or value is False:
        return False
    return not (isinstance(value, (int, float, Decimal)) and value == 0)


_TEST_FUNCTIONS: Mapping[str, Callable[[object], bool]] = {
    "present": lambda value: not is_empty(value),
    "absent": is_empty,
    "truthy": _truthy,
    "falsy": lambda value: not _truthy(value),
}
