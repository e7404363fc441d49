"""The ``app_info`` and ``device_info`` objects, held to Pinterest's limits. Pure: no I/O.

Each value is typed by its registry kind's converter, then checked against the field's
limits in the registry (length, range, allowed values, number of items). A value that
fails is left out of its object and reported as ``(field, reason)``, as the personal-data
normalizers report theirs: it never stops the event. An object left empty is not sent.
The generated fast path calls the same converters (:data:`INFO_CONVERTERS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from target_pinterest_conversions.conversion.event import CONVERTERS_BY_KIND
from target_pinterest_conversions.conversion.text import DroppedValue
from target_pinterest_conversions.conversion.types import EventError
from target_pinterest_conversions.pinterest.fields import FIELDS, INFO_GROUPS, Field


def _range_text(entry: Field) -> str:
    if entry.maximum is None:
        return f"{entry.minimum} or more"
    if entry.minimum is None:
        return f"{entry.maximum} or less"
    return f"{entry.minimum} to {entry.maximum}"


def checked_converter(entry: Field) -> Callable[[object], Any]:
    """Return the function that types one raw value of ``entry`` within its limits.

    The function returns ``None`` for a value that is no value once typed (an empty
    list), and raises :class:`DroppedValue` for one that cannot be typed or breaks a
    limit; its reason names neither the field (the caller does) nor the value.
    An allowed value is matched ignoring case and sent as Pinterest spells it.
    """
    name = f"{entry.group}.{entry.name}"
    convert = CONVERTERS_BY_KIND[entry.kind]
    prefix = f"{name} "
    allowed = {value.lower(): value for value in entry.enum} if entry.enum is not None else None
    low, high = entry.minimum, entry.maximum
    max_length, max_items = entry.max_length, entry.max_items

    def typed(value: object) -> Any:
        try:
            out = convert(value, name)
        except EventError as exc:
            # The kind's converters name the field first; the dropped pair names it apart.
            raise DroppedValue(exc.reason.removeprefix(prefix)) from None
        if out is None:
            return None
        if allowed is not None:
            spelled = allowed.get(out.lower())
            if spelled is None:
                raise DroppedValue(f"is not one of {', '.join(allowed.values())}")
            out = spelled
        if max_length is not None and len(out) > max_length:
            raise DroppedValue(f"is longer than {max_length} characters")
        if (low is not None and out < low) or (high is not None and out > high):
            raise DroppedValue(f"is out of range (Pinterest takes {_range_text(entry)})")
        if max_items is not None and len(out) > max_items:
            raise DroppedValue(f"has more than {max_items} items")
        return out

    return typed


INFO_CONVERTERS: Mapping[str, Mapping[str, Callable[[object], Any]]] = {
    group: {f.name: checked_converter(f) for f in FIELDS if f.group == group}
    for group in INFO_GROUPS
}
"""Group to key to the checked converter of one raw value (see :func:`checked_converter`)."""


def build_info(
    raw: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """Type the raw values of each mapped object (``app_info``, ``device_info``).

    Returns:
        Each object that holds a value, keys in the order of ``raw``, and the values
        left out as ``(group.key, reason)`` pairs.

    """
    objects: dict[str, dict[str, Any]] = {}
    dropped: list[tuple[str, str]] = []
    for group, values in raw.items():
        converters = INFO_CONVERTERS[group]
        typed_values: dict[str, Any] = {}
        for key, value in values.items():
            try:
                typed = converters[key](value)
            except DroppedValue as exc:
                dropped.append((f"{group}.{key}", exc.reason))
                continue
            if typed is not None:
                typed_values[key] = typed
        if typed_values:
            objects[group] = typed_values
    return objects, dropped
