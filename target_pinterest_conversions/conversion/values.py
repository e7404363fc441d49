"""What counts as no value, and how one value or several are read: one definition each.

Every step that asks "was a value given?" (the first non-empty path of a fallback list,
the personal-data normalizers, the derived fields) asks :func:`is_empty`; every step that
reads "one value or a list of them" (``contents.from``, ``content_ids``, several emails)
reads it with :func:`as_list`. Generated code (the mapping's readers, the fast path) uses
the inline forms below, which ``tests/test_empty_values.py`` holds equal to the functions.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def is_blank(value: object) -> bool:
    """Tell whether a single value is absent: ``None``, or text with nothing but spaces."""
    if isinstance(value, str):
        return not value or value.isspace()
    return value is None


def is_empty(value: object) -> bool:
    """Tell whether a value holds nothing: blank, or a list or object without entries.

    A fallback list of paths moves on past an empty value: ``"   "`` in ``email`` lets
    ``customer.email`` give the address.
    """
    if isinstance(value, (int, float, Decimal)):  # NEVER_EMPTY, bool an int
        return False  # a number is never empty, 0 included: settled before the other checks
    if isinstance(value, (list, tuple, Mapping)):
        return not value
    return is_blank(value)


def as_list(value: object) -> list[Any]:
    """Read a value as a list: a list or tuple as itself, ``None`` as none, else a list of one."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [] if value is None else [value]


def nonblank_values(value: object) -> Sequence[Any]:
    """The values given, one or several, with blanks left out (they count as absent)."""
    if type(value) is str:  # the usual case, settled without building a list
        return (value,) if value and not value.isspace() else ()
    return [v for v in as_list(value) if not is_blank(v)]


def present_code(var: str) -> str:
    """The inline form of ``not is_empty(var)``, for generated code.

    Plain text (the usual value) is settled without a call; other classes ask
    :func:`is_empty` (bound as ``_is_empty`` in the generated code's namespace).
    """
    return (
        f"(not ({var} == '' or {var}.isspace()) if {var}.__class__ is str "
        f"else ({var} is not None and not _is_empty({var})))"
    )


def text_present_code(var: str) -> str:
    """The inline form of ``not is_empty(var)`` where ``var`` is known to be text or None."""
    return f"({var} and not {var}.isspace())"


NEVER_EMPTY: frozenset[type] = frozenset({int, float, Decimal, bool})
"""Classes whose values are never empty: numbers (:func:`is_empty` settles them first)."""


def number_present_code(var: str) -> str:
    """The inline form of ``not is_empty(var)`` where ``var`` is a number or None."""
    return f"({var} is not None)"


def container_present_code(var: str) -> str:
    """The inline form of ``not is_empty(var)`` where ``var`` is a list, a dict or None."""
    return f"({var} is not None and len({var}) > 0)"


def as_list_code(var: str) -> str:
    """The inline form of ``var = as_list(var)`` for a value known not to be ``None``."""
    return f"if {var}.__class__ is not list: {var} = _as_list({var})"


def code_names() -> dict[str, Any]:
    """The names the inline forms need in a generated function's namespace."""
    return {"_is_empty": is_empty, "_as_list": as_list}
