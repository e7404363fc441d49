"""The one code emitter: Python source that reads value sources from records. Pure.

Mappings run for every record, and a preset reads some forty paths; generated code
(as fastjsonschema and dataclasses do) reads them with no call per field or path.
Every generator of the package (:mod:`.extractor`, :mod:`.fastpath`,
:mod:`.typecheck`) builds its lines here and defines its function with
:func:`define_function`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from target_pinterest_conversions.conversion.types import Template
from target_pinterest_conversions.conversion.urls import url_param
from target_pinterest_conversions.conversion.values import (
    NEVER_EMPTY,
    code_names,
    container_present_code,
    number_present_code,
    present_code,
    text_present_code,
)

if TYPE_CHECKING:
    from target_pinterest_conversions.mapping.spec import Source

_ABSENT = object()  # a key not in the record, where a guard must tell it from null


def resolve_path(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at ``path`` in ``record``, or ``None`` when any step is absent."""
    current: Any = record
    for segment in path:
        # `type(...) is dict` first: records are dicts, and the ABC check is slow.
        if type(current) is dict or isinstance(current, Mapping):
            current = current.get(segment)
        elif isinstance(current, list) and segment.isdigit():
            index = int(segment)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def compile_getter(src: Source) -> Callable[[Any], Any]:
    """Compile ``src`` alone into ``record -> value``, with the code the extractor uses."""
    namespace = code_namespace()
    lines = ["def get(r):", *source_code(src, "v", "r", "s", namespace), "    return v"]
    return define_function(lines, namespace, "get")


Decoded = Callable[[tuple[str, ...]], bool]
"""Path (or path prefix) -> whether the decoder already admitted only the guard's
classes there (``conversion.partial``): such a step is read but not checked."""


def all_decoded(src: Source, decoded: Decoded | None) -> bool:
    """Tell whether ``decoded`` holds every path of ``src`` (every prefix, by construction)."""
    return decoded is not None and all(decoded(path) for path in src.paths)


Guards = Callable[[tuple[str, ...]], "tuple[type, ...] | None"]
"""Path (or path prefix) -> the exact classes a value there may have; ``None``: any.

Given to :func:`source_code`, it makes the generated code return ``None`` from the
enclosing function as soon as a value read along a path has another class. An absent
key passes whenever its guard admits no ``None``: only a value present is checked.
"""


def guard_code(
    var: str, allowed: tuple[type, ...] | None, tag: str, namespace: dict[str, Any], indent: str
) -> list[str]:
    """Lines that return ``None`` unless ``var``'s class is in ``allowed``.

    Where ``allowed`` lacks ``NoneType``, ``var`` must have been read with ``_ABSENT``
    as the default for a missing key: absence passes, and ``var`` then becomes None.
    """
    if allowed is None:
        return []
    namespace[f"g_{tag}"] = allowed
    if type(None) in allowed:
        return [f"{indent}if {var}.__class__ not in g_{tag}: return None"]
    return [
        f"{indent}if {var}.__class__ not in g_{tag}:",
        f"{indent}    if {var} is not _ABSENT: return None",
        f"{indent}    {var} = None",
    ]


_DICT_OR_NONE = frozenset({dict, type(None)})
_TEXT_OR_NONE = frozenset({str, type(None)})
_NUMBER_OR_NONE = NEVER_EMPTY | {type(None)}
_CONTAINER_OR_NONE = frozenset({dict, list, type(None)})


def _step(var: str, segment: str, default: str, missing: str, parent: object, root: bool) -> str:
    """The expression reading ``segment`` of ``var``, given the classes ``var`` may have.

    ``parent`` is ``dict`` when ``var`` is known to be a dict, a tuple of classes when
    a guard has checked it, or ``None`` when anything may be there. ``root``: ``var`` is
    the record itself, never ``None``.
    """
    get = f"{var}.get({segment!r}{default})"
    if parent is dict:
        return get
    if isinstance(parent, tuple) and set(parent) <= _DICT_OR_NONE:
        return f"{get} if {var} is not None else {missing}"
    fallback = f"_resolve({var}, ({segment!r},))"
    if not root:
        fallback = f"({missing} if {var} is None else {fallback})"
    return f"{get} if {var}.__class__ is dict else {fallback}"


def path_code(
    path: tuple[str, ...],
    name: str,
    root: str,
    indent: str,
    namespace: dict[str, Any],
    hoisted: Mapping[tuple[str, ...], str] | None = None,
    guards: Guards | None = None,
    *,
    dict_root: bool = False,
    decoded: Decoded | None = None,
) -> list[str]:
    """Lines that leave the value at ``path`` of ``root`` in ``x`` (``None`` when absent).

    Each step is a plain ``dict.get`` when the value is a dict (records decoded from
    JSON are); any other value takes :func:`resolve_path` for that one step. With
    ``hoisted``, a leading part of the path already read (and guarded) into a
    variable is not read again. With ``guards``, every step's value is checked (see :data:`Guards`),
    and a step after a value known to be a dict or null reads it without asking.
    ``dict_root`` tells that ``root`` is known to be a dict. A step ``decoded`` holds
    (see :data:`Decoded`) is not checked: its guard's classes only shape the reads.
    """
    namespace[name] = path
    if any(segment.isdigit() for segment in path):
        if guards is not None:
            raise ValueError("paths with list indexes cannot be guarded")
        return [f"{indent}x = _resolve({root}, {name})"]
    lines: list[str] = []
    parent: object = dict if dict_root else None
    hoisted = hoisted or {}
    start = next((k for k in range(len(path) - 1, 0, -1) if path[:k] in hoisted), 0)
    first = root
    if start:
        # The next step reads the hoisted variable itself: no copy into x first.
        first = hoisted[path[:start]]
        parent = guards(path[:start]) if guards is not None else None
    for k in range(start, len(path)):
        allowed = guards(path[: k + 1]) if guards is not None else None
        held = decoded is not None and decoded(path[: k + 1])
        strict = allowed is not None and type(None) not in allowed and not held
        default, missing = (", _ABSENT", "_ABSENT") if strict else ("", "None")
        step = _step(first if k == start else "x", path[k], default, missing, parent, k == 0)
        lines.append(f"{indent}x = {step}")
        if not held:
            lines += guard_code("x", allowed, f"{name}_{k}", namespace, indent)
        parent = allowed
    return lines


def source_code(
    src: Source,
    var: str,
    root: str,
    tag: str,
    namespace: dict[str, Any],
    hoisted: Mapping[tuple[str, ...], str] | None = None,
    guards: Guards | None = None,
    *,
    dict_root: bool = False,
    decoded: Decoded | None = None,
) -> list[str]:
    """Lines that leave ``src``'s value (first non-empty, or the constant) in ``var``.

    ``hoisted`` maps leading parts of paths to variables that already hold ``root``'s
    value there (see :func:`path_code`). With ``guards``, every path is read and
    checked, not only those up to the first with a value, unless ``decoded`` holds
    every path (see :func:`path_code`).
    """
    if src.is_const:
        namespace[f"c_{tag}"] = src.const
        return [f"    {var} = c_{tag}"]
    if src.template:
        return _template_code(src, var, root, tag, namespace, hoisted, guards, dict_root, decoded)
    # The first path's answer is assigned whole; the others only fill a None.
    lines = [] if src.paths else [f"    {var} = None"]
    for j, path in enumerate(src.paths):
        indent = "    "
        unset = ""
        if j and (guards is None or all_decoded(src, decoded)):
            lines.append(f"    if {var} is None:")
            indent = "        "
        elif j:
            unset = f"{var} is None and "
        lines += path_code(
            path,
            f"p_{tag}_{j}",
            root,
            indent,
            namespace,
            hoisted,
            guards,
            dict_root=dict_root,
            decoded=decoded,
        )
        allowed = guards(path) if guards is not None else None
        param = src.url_param(j)
        if param is not None:
            namespace[f"q_{tag}_{j}"] = param
            # url_param gives None for anything but text: no call for the usual None.
            lines.append(f"{indent}x = _url_param(x, q_{tag}_{j}) if x.__class__ is str else None")
        # url_param gives text or None, as a guard admitting only those would.
        if param is not None or (allowed is not None and set(allowed) <= _TEXT_OR_NONE):
            present = text_present_code("x")
        elif allowed is not None and set(allowed) <= _NUMBER_OR_NONE:
            present = number_present_code("x")
        elif allowed is not None and set(allowed) <= _CONTAINER_OR_NONE:
            present = container_present_code("x")
        else:
            present = present_code("x")
        if j:
            lines.append(f"{indent}if {unset}{present}: {var} = x")
        else:
            lines.append(f"{indent}{var} = x if {present} else None")
    return lines


def _template_code(
    src: Source,
    var: str,
    root: str,
    tag: str,
    namespace: dict[str, Any],
    hoisted: Mapping[tuple[str, ...], str] | None,
    guards: Guards | None,
    dict_root: bool,
    decoded: Decoded | None,
) -> list[str]:
    """Lines that leave a template's values in ``var`` (a :class:`Template`), or ``None``.

    Every path is read (and checked, with ``guards``); one without a value leaves
    ``var`` ``None``, as an empty path does.
    """
    namespace[f"tp_{tag}"] = src.template
    namespace["_Template"] = Template
    lines: list[str] = []
    names = []
    for j, path in enumerate(src.paths):
        lines += path_code(
            path,
            f"p_{tag}_{j}",
            root,
            "    ",
            namespace,
            hoisted,
            guards,
            dict_root=dict_root,
            decoded=decoded,
        )
        lines.append(f"    t_{tag}_{j} = x if {present_code('x')} else None")
        names.append(f"t_{tag}_{j}")
    present = " and ".join(f"{name} is not None" for name in names)
    values = ", ".join(names)
    lines.append(f"    {var} = _Template(tp_{tag}, ({values},)) if {present} else None")
    return lines


def group_code(
    sources: Mapping[str, Source], out: str, root: str, tag: str, namespace: dict[str, Any]
) -> list[str]:
    """Lines that fill dict ``out`` with ``{key: value}`` for each source with a value."""
    lines = [f"    {out} = {{}}"]
    for i, (key, src) in enumerate(sources.items()):
        if src.is_const:
            if src.const is not None:
                namespace[f"c_{tag}{i}"] = src.const
                lines.append(f"    {out}[{key!r}] = c_{tag}{i}")
            continue
        lines += source_code(src, "v", root, f"{tag}{i}", namespace)
        lines.append(f"    if v is not None: {out}[{key!r}] = v")
    return lines


def code_namespace() -> dict[str, Any]:
    """Return the names that code from :func:`source_code` needs in its namespace."""
    return {
        "_resolve": resolve_path,
        "_Mapping": Mapping,
        **code_names(),
        "_ABSENT": _ABSENT,
        "_url_param": url_param,
    }


def define_function(lines: list[str], namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    """Execute generated source ``lines`` in ``namespace``; return the function ``name``."""
    # Source built from repr() literals and generated names only; values live in
    # `namespace`, never in the text.
    exec("\n".join(lines), namespace)  # noqa: S102
    return namespace[name]  # type: ignore[no-any-return]


def compile_group(sources: Mapping[str, Source]) -> Callable[[Any], dict[str, Any]]:
    """Compile sources into one function: record -> {key: first non-empty value}.

    The function is generated as Python source, like fastjsonschema and dataclasses
    do, so that reading a record's fields costs no call per field or path: this runs
    for every record, and a preset reads some forty paths.
    """
    namespace = code_namespace()
    lines = ["def group(r):", *group_code(sources, "out", "r", "g", namespace), "    return out"]
    return define_function(lines, namespace, "group")
