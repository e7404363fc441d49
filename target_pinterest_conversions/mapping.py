"""Per-stream mapping from a record to the raw parts of Pinterest events.

A stream's mapping (the ``streams.<name>`` setting) is compiled once into a
:class:`StreamMapping`; :meth:`StreamMapping.extract_all` then reads one record into one
:class:`RawEvent` (or one per item with ``event_per_item``) without converting or
hashing anything. Pure: no I/O.

A *value source* is one of:

- a dotted path into the record, e.g. ``"billingAddress.zip"`` (a numeric segment
  indexes a list: ``"lineItems.0.sku"``; with ``event_per_item``, ``"$item.sku"`` reads
  the current item);
- a list of paths, the first one giving a non-empty value wins;
- a constant, written ``{"const": <value>}``.

``event_name`` and ``action_source`` are constants written as plain strings; their
``*_from`` forms read them from the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from target_pinterest_conversions.fields import CONTENTS, CUSTOM_DATA, EVENT, names
from target_pinterest_conversions.limits import InvalidText
from target_pinterest_conversions.presets import PRESETS, expand_preset
from target_pinterest_conversions.privacy import HASHED_KEYS, USER_DATA_KEYS
from target_pinterest_conversions.values import (
    as_list_code,
    code_names,
    present_code,
    text_present_code,
)
from target_pinterest_conversions.vocabulary import (
    ACTION_SOURCES,
    BUILTIN_EVENT_MAPS,
    PINTEREST_EVENT_NAMES,
    name_key,
)

CUSTOM_DATA_KEYS: tuple[str, ...] = names(CUSTOM_DATA)
CONTENT_ITEM_KEYS: tuple[str, ...] = names(CONTENTS)
EXTRA_STRING_FIELDS: tuple[str, ...] = names(EVENT, "text")
"""Event-level string fields a mapping may set (``partner_name`` overrides the setting)."""
EXTRA_BOOLEAN_FIELDS: tuple[str, ...] = names(EVENT, "boolean")

EVENT_NAME_FALLBACKS: tuple[str, ...] = ("custom", "skip", "as_is")

STREAM_MAPPING_KEYS: tuple[str, ...] = (
    "preset",
    "event_name",
    "event_name_from",
    "event_name_map",
    "event_name_fallback",
    "action_source",
    "action_source_from",
    "action_source_map",
    "event_time",
    "event_id",
    "event_per_item",
    "user_data",
    "custom_data",
    "contents",
    "content_id",
    *EXTRA_STRING_FIELDS,
    *EXTRA_BOOLEAN_FIELDS,
)

ITEM = "$item"


class MappingConfigError(ValueError):
    """A stream mapping setting is invalid; the message names the setting."""


_MISSING = object()
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


@dataclass(frozen=True)
class Source:
    """Where one value comes from: alternative paths, or a constant.

    ``from_preset`` marks a preset's source: when bound to a schema, its paths that the
    schema lacks are dropped rather than reported.
    """

    paths: tuple[tuple[str, ...], ...] = ()
    const: Any = _MISSING
    from_preset: bool = False

    def __post_init__(self) -> None:
        # Generated once per source (the code the extractor inlines), so reading a
        # value costs no generic path walk: it runs for every record.
        object.__setattr__(self, "get", _compile_getter(self))

    def get(self, record: Mapping[str, Any]) -> Any:  # replaced per instance
        """Return the constant, or the first non-empty value found along ``paths``."""
        return _compile_getter(self)(record)

    @property
    def is_const(self) -> bool:
        """Tell whether the source is a constant."""
        return self.const is not _MISSING

    def dotted_paths(self) -> list[str]:
        """Return the record paths this source reads, in dotted form."""
        return [".".join(path) for path in self.paths]


def _compile_getter(src: Source) -> Callable[[Any], Any]:
    """Compile ``src`` alone into ``record -> value``, with the code the extractor uses."""
    namespace = code_namespace()
    lines = ["def get(r):", *source_code(src, "v", "r", "s", namespace), "    return v"]
    return define_function(lines, namespace, "get")


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


def _step(var: str, segment: str, default: str, missing: str, parent: object) -> str:
    """The expression reading ``segment`` of ``var``, given the classes ``var`` may have.

    ``parent`` is ``dict`` when ``var`` is known to be a dict, a tuple of classes when
    a guard has checked it, or ``None`` when anything may be there.
    """
    get = f"{var}.get({segment!r}{default})"
    if parent is dict:
        return get
    if isinstance(parent, tuple) and set(parent) <= _DICT_OR_NONE:
        return f"{get} if {var} is not None else {missing}"
    if missing == "None" and var == "x":
        fallback = f"(None if x is None else _resolve(x, ({segment!r},)))"
    elif var == "x":
        fallback = f"({missing} if x is None else _resolve(x, ({segment!r},)))"
    else:
        fallback = f"_resolve({var}, ({segment!r},))"
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
) -> list[str]:
    """Lines that leave the value at ``path`` of ``root`` in ``x`` (``None`` when absent).

    Each step is a plain ``dict.get`` when the value is a dict (records decoded from
    JSON are); any other value takes :func:`resolve_path` for that one step. With
    ``hoisted``, a leading part of the path already read (and guarded) into a
    variable is not read again. With ``guards``, every step's value is checked (see :data:`Guards`),
    and a step after a value known to be a dict or null reads it without asking.
    ``dict_root`` tells that ``root`` is known to be a dict.
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
    if start:
        lines.append(f"{indent}x = {hoisted[path[:start]]}")
        parent = guards(path[:start]) if guards is not None else None
    for k in range(start, len(path)):
        allowed = guards(path[: k + 1]) if guards is not None else None
        strict = allowed is not None and type(None) not in allowed
        default, missing = (", _ABSENT", "_ABSENT") if strict else ("", "None")
        step = _step(root if k == 0 else "x", path[k], default, missing, parent)
        lines.append(f"{indent}x = {step}")
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
) -> list[str]:
    """Lines that leave ``src``'s value (first non-empty, or the constant) in ``var``.

    ``hoisted`` maps leading parts of paths to variables that already hold ``root``'s
    value there (see :func:`path_code`). With ``guards``, every path is read and
    checked, not only those up to the first with a value.
    """
    if src.is_const:
        namespace[f"c_{tag}"] = src.const
        return [f"    {var} = c_{tag}"]
    lines = [f"    {var} = None"]
    for j, path in enumerate(src.paths):
        indent = "    "
        unset = ""
        if j and guards is None:
            lines.append(f"    if {var} is None:")
            indent = "        "
        elif j:
            unset = f"{var} is None and "
        lines += path_code(
            path, f"p_{tag}_{j}", root, indent, namespace, hoisted, guards, dict_root=dict_root
        )
        allowed = guards(path) if guards is not None else None
        if allowed is not None and set(allowed) <= _TEXT_OR_NONE:
            lines.append(f"{indent}if {unset}{text_present_code('x')}: {var} = x")
        else:
            lines.append(f"{indent}if {unset}{present_code('x')}: {var} = x")
    return lines


def _group_code(
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
    lines = ["def group(r):", *_group_code(sources, "out", "r", "g", namespace), "    return out"]
    return define_function(lines, namespace, "group")


def compile_source(spec: object, setting: str, *, from_preset: bool = False) -> Source:
    """Compile a value source from its setting (path, list of paths or constant)."""
    if isinstance(spec, str):
        return Source(paths=(_compile_path(spec, setting),), from_preset=from_preset)
    if isinstance(spec, list) and spec and all(isinstance(p, str) for p in spec):
        paths = tuple(_compile_path(p, setting) for p in spec)
        return Source(paths=paths, from_preset=from_preset)
    if isinstance(spec, Mapping) and set(spec) == {"const"}:
        return Source(const=spec["const"], from_preset=from_preset)
    raise MappingConfigError(
        f'{setting}: expected a path ("a.b"), a list of paths or {{"const": value}}',
    )


def _compile_path(path: str, setting: str) -> tuple[str, ...]:
    segments = tuple(path.split("."))
    if not path or any(not s for s in segments):
        raise MappingConfigError(f"{setting}: '{path}' is not a valid dotted path")
    return segments


@dataclass(frozen=True)
class NameRule:
    """How an event name or action source is found: a constant, or a field plus a table.

    ``table`` maps :func:`name_key` of a source value to the Pinterest value; ``const``
    is used when the field is empty, and for unmapped values when ``fallback`` is
    ``default``. ``skip`` leaves the record out (counted, not sent); ``custom`` sends
    Pinterest's ``custom`` event; ``as_is`` sends the source value unchanged.
    """

    const: str | None = None
    source: Source | None = None
    table: Mapping[str, str] = field(default_factory=dict)
    fallback: str = "custom"
    label: str = "event name"

    def resolve(self, record: Mapping[str, Any]) -> tuple[str | None, str | None, bool]:
        """Return ``(value, reason, skipped)``; ``value`` is None when there is no event."""
        if self.source is None:
            return self.const, None, False
        raw = self.source.get(record)
        if not isinstance(raw, (str, int)) or isinstance(raw, bool) or not str(raw).strip():
            if self.const is not None:
                return self.const, None, False
            return None, f"{self.label} field is empty", False
        text = str(raw).strip()
        mapped = self.table.get(name_key(text))
        if mapped is not None:
            return mapped, None, False
        if isinstance(raw, InvalidText):
            # Read as an empty field: no request, reason or file can hold its text.
            if self.const is not None:
                return self.const, None, False
            reason = f"{self.label} field is not valid Unicode (it holds a lone surrogate)"
            return None, reason, False
        if self.fallback == "as_is":
            return text, None, False
        if self.fallback == "custom":
            return "custom", None, False
        if self.fallback == "skip":
            return None, f"{self.label} '{text[:60]}' is not mapped", True
        if self.const is not None:
            return self.const, None, False
        return None, f"{self.label} '{text[:60]}' is not one of {', '.join(ACTION_SOURCES)}", False


@dataclass(frozen=True)
class ContentsSpec:
    """Where the ``contents`` array comes from and how each element maps to an item."""

    array: Source
    items: Mapping[str, Source]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_item", compile_group(self.items))


@dataclass(slots=True)
class RawEvent:
    """The raw parts of one event, read from a record but not yet converted.

    ``reason`` is set when the record yields no event: ``skipped`` tells an unmapped
    event name left out on purpose (``skip`` fallback) from a record that cannot be an
    event (empty event name, invalid action source).
    """

    event_name: Any
    action_source: Any
    event_time: Any
    event_id: Any
    user_data: dict[str, Any]
    custom_data: dict[str, Any]
    contents: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    item_index: int | None = None
    reason: str | None = None
    skipped: bool = False


@dataclass(frozen=True)
class StreamMapping:
    """The compiled mapping of one stream."""

    stream: str
    event_name: str | None
    action_source: str | None
    event_time: Source
    event_id: Source | None
    user_data: Mapping[str, Source]
    custom_data: Mapping[str, Source]
    contents: ContentsSpec | None = None
    hashed_paths: frozenset[str] = field(default_factory=frozenset)
    event_name_rule: NameRule | None = None
    action_source_rule: NameRule | None = None
    event_per_item: Source | None = None
    extra: Mapping[str, Source] = field(default_factory=dict)
    preset: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_name_rule", self.event_name_rule or NameRule(const=self.event_name)
        )
        object.__setattr__(
            self, "_source_rule", self.action_source_rule or NameRule(const=self.action_source)
        )
        object.__setattr__(self, "_extract", _compile_extractor(self))

    def extract(self, record: Mapping[str, Any]) -> RawEvent:
        """Read the raw parts of the record's (first) event."""
        return self.extract_all(record)[0]

    def extract_all(self, record: Mapping[str, Any]) -> list[RawEvent]:
        """Read the record's events: one, or one per item with ``event_per_item``.

        A record whose ``event_per_item`` array is empty yields one event without item.
        """
        if self.event_per_item is None:
            return [self._extract(record, None)]  # type: ignore[attr-defined]
        items = self.event_per_item.get(record)
        if not isinstance(items, list) or not items:
            return [self._extract(record, None)]  # type: ignore[attr-defined]
        extract = self._extract  # type: ignore[attr-defined]
        return [extract({**record, ITEM: item}, index) for index, item in enumerate(items)]

    def item_scoped_event_id(self) -> bool:
        """Tell whether the mapped event id already differs per item (reads ``$item``)."""
        return bool(self.event_id and all(p[0] == ITEM for p in self.event_id.paths))

    def sources(self) -> list[tuple[str, Source]]:
        """Return every ``(setting, source)`` of the mapping."""
        prefix = f"streams.{self.stream}"
        out: list[tuple[str, Source]] = [(f"{prefix}.event_time", self.event_time)]
        if self.event_id:
            out.append((f"{prefix}.event_id", self.event_id))
        if self.event_per_item:
            out.append((f"{prefix}.event_per_item", self.event_per_item))
        for key, rule in (
            ("event_name_from", self.event_name_rule),
            ("action_source_from", self.action_source_rule),
        ):
            if rule is not None and rule.source is not None:
                out.append((f"{prefix}.{key}", rule.source))
        for group, sources in (
            ("user_data", self.user_data),
            ("custom_data", self.custom_data),
            ("extra", self.extra),
        ):
            for key, src in sources.items():
                name = f"{prefix}.{key}" if group == "extra" else f"{prefix}.{group}.{key}"
                out.append((name, src))
        if self.contents:
            out.append((f"{prefix}.contents.from", self.contents.array))
        return out

    def record_paths(self) -> list[tuple[str, str]]:
        """Return ``(setting, dotted path)`` for every record path the mapping reads.

        Paths inside ``contents`` items are given under their array as ``from.[].item``;
        ``$item`` paths under the ``event_per_item`` array as ``array.[].rest``.
        """
        out = []
        item_arrays = self.event_per_item.dotted_paths() if self.event_per_item else []
        for setting, src in self.sources():
            for path in src.dotted_paths():
                out += [(setting, p) for p in _expand_item(path, item_arrays)]
        if self.contents:
            prefix = f"streams.{self.stream}.contents"
            for array in self.contents.array.dotted_paths():
                for key, src in self.contents.items.items():
                    for item in src.dotted_paths():
                        out += [
                            (f"{prefix}.{key}", p)
                            for p in _expand_item(f"{array}.[].{item}", item_arrays)
                        ]
        return out


def _compile_extractor(mapping: StreamMapping) -> Callable[[Any, int | None], RawEvent]:
    """Compile the whole mapping into one function: (record, item index) -> RawEvent.

    One generated function reads every mapped field, so a record costs one call
    instead of one per group, source and path.
    """
    ns = code_namespace()
    ns["_Raw"] = RawEvent
    lines = ["def extract(r, index):"]
    for var, rule in (("name", mapping._name_rule), ("source", mapping._source_rule)):  # type: ignore[attr-defined]
        if rule.source is None:
            ns[f"const_{var}"] = rule.const
            lines.append(f"    {var}, {var}_reason, {var}_skipped = const_{var}, None, False")
        else:
            ns[f"rule_{var}"] = rule.resolve
            lines.append(f"    {var}, {var}_reason, {var}_skipped = rule_{var}(r)")
    lines += source_code(mapping.event_time, "time", "r", "t", ns)
    if mapping.event_id is None:
        lines.append("    event_id = None")
    else:
        lines += source_code(mapping.event_id, "event_id", "r", "i", ns)
    lines += _group_code(mapping.user_data, "ud", "r", "u", ns)
    lines += _group_code(mapping.custom_data, "cd", "r", "c", ns)
    if mapping.contents is None:
        lines.append("    contents = None")
    else:
        ns["_item"] = mapping.contents._item  # type: ignore[attr-defined]
        lines += source_code(mapping.contents.array, "arr", "r", "a", ns)
        lines += [
            "    if arr is None:",
            "        contents = None",
            "    else:",
            f"        {as_list_code('arr')}",
            "        contents = [_item(e) for e in arr if isinstance(e, _Mapping)]",
        ]
    lines += _group_code(mapping.extra, "ex", "r", "x", ns)
    lines.append(
        "    return _Raw(name, source, time, event_id, ud, cd, contents, ex, index, "
        "name_reason or source_reason, name_skipped)"
    )
    return define_function(lines, ns, "extract")


def _expand_item(path: str, item_arrays: Sequence[str]) -> list[str]:
    if path == ITEM or path.startswith(ITEM + "."):
        rest = path[len(ITEM) :]
        return [f"{array}.[]{rest}" for array in item_arrays] or [path]
    return [path]


def _require_mapping(value: object, setting: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MappingConfigError(f"{setting}: expected an object")
    return value


def _compile_group(
    spec: object,
    setting: str,
    allowed: Sequence[str],
    preset_keys: set[str],
    group: str,
) -> dict[str, Source]:
    sources = _require_mapping(spec, setting)
    out = {}
    for key, source in sources.items():
        if key not in allowed:
            raise MappingConfigError(
                f"{setting}.{key}: unknown key; expected one of {', '.join(allowed)}",
            )
        out[key] = compile_source(
            source,
            f"{setting}.{key}",
            from_preset=f"{group}.{key}" in preset_keys,
        )
    return out


def _event_name_table(spec: object, setting: str) -> dict[str, str]:
    """Build the lookup table: Pinterest's own names, then built-in maps, then the user's."""
    table = {name_key(n): n for n in PINTEREST_EVENT_NAMES}
    specs = spec if isinstance(spec, list) else [spec]
    for one in specs:
        if one is None:
            continue
        if isinstance(one, str):
            if one not in BUILTIN_EVENT_MAPS:
                raise MappingConfigError(
                    f"{setting}: unknown built-in map '{one}'; "
                    f"expected one of {', '.join(BUILTIN_EVENT_MAPS)} or an object",
                )
            one = BUILTIN_EVENT_MAPS[one]
        if not isinstance(one, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in one.items()
        ):
            raise MappingConfigError(
                f"{setting}: expected an object of source name to Pinterest event name, "
                "a built-in map name, or a list of those",
            )
        table.update({name_key(k): v.strip() for k, v in one.items()})
    return table


def _name_rules(
    cfg: Mapping[str, Any],
    setting: str,
    preset_keys: set[str],
) -> tuple[str | None, NameRule | None, str | None, NameRule | None]:
    event_name = cfg.get("event_name")
    if event_name is not None and (not isinstance(event_name, str) or not event_name.strip()):
        raise MappingConfigError(f"{setting}.event_name: expected a Pinterest event name")
    name_rule = None
    if "event_name_from" in cfg:
        fallback = cfg.get("event_name_fallback", "custom")
        if fallback not in EVENT_NAME_FALLBACKS:
            raise MappingConfigError(
                f"{setting}.event_name_fallback: expected one of {', '.join(EVENT_NAME_FALLBACKS)}",
            )
        name_rule = NameRule(
            const=event_name.strip() if event_name else None,
            source=compile_source(
                cfg["event_name_from"],
                f"{setting}.event_name_from",
                from_preset="event_name_from" in preset_keys,
            ),
            table=_event_name_table(cfg.get("event_name_map"), f"{setting}.event_name_map"),
            fallback=fallback,
        )
    elif event_name is None:
        raise MappingConfigError(f"{setting}.event_name: required (or event_name_from)")
    for key in ("event_name_map", "event_name_fallback"):
        if key in cfg and name_rule is None:
            raise MappingConfigError(f"{setting}.{key}: only applies with event_name_from")

    action_source = cfg.get("action_source")
    if action_source is not None and action_source not in ACTION_SOURCES:
        raise MappingConfigError(
            f"{setting}.action_source: expected one of {', '.join(ACTION_SOURCES)}",
        )
    source_rule = None
    if "action_source_from" in cfg:
        user_map = cfg.get("action_source_map") or {}
        if not isinstance(user_map, Mapping) or not all(
            v in ACTION_SOURCES for v in user_map.values()
        ):
            raise MappingConfigError(
                f"{setting}.action_source_map: values must be one of {', '.join(ACTION_SOURCES)}",
            )
        table = {name_key(s): s for s in ACTION_SOURCES}
        table.update({name_key(str(k)): v for k, v in user_map.items()})
        source_rule = NameRule(
            const=action_source,
            source=compile_source(
                cfg["action_source_from"],
                f"{setting}.action_source_from",
                from_preset="action_source_from" in preset_keys,
            ),
            table=table,
            fallback="default",
            label="action_source",
        )
    elif action_source is None:
        raise MappingConfigError(f"{setting}.action_source: required (or action_source_from)")
    elif "action_source_map" in cfg:
        raise MappingConfigError(
            f"{setting}.action_source_map: only applies with action_source_from"
        )
    return (
        event_name.strip() if isinstance(event_name, str) else None,
        name_rule,
        action_source,
        source_rule,
    )


def compile_stream_mapping(stream: str, spec: object) -> StreamMapping:
    """Compile the ``streams.<stream>`` setting.

    Raises:
        MappingConfigError: a key is unknown, missing or of the wrong shape; the
            message names the setting, e.g. ``streams.orders.action_source``.

    """
    setting = f"streams.{stream}"
    cfg = _require_mapping(spec, setting)
    preset_keys: set[str] = set()
    preset = cfg.get("preset")
    if preset is not None:
        if preset not in PRESETS:
            known = ", ".join(PRESETS)
            raise MappingConfigError(
                f"{setting}.preset: unknown preset '{preset}'; expected one of {known}",
            )
        try:
            cfg, preset_keys = expand_preset(cfg)
        except ValueError as exc:
            raise MappingConfigError(f"{setting}.{exc}") from None
    elif "content_id" in cfg:
        raise MappingConfigError(f"{setting}.content_id: only applies with a preset")
    for key in cfg:
        if key not in STREAM_MAPPING_KEYS:
            raise MappingConfigError(
                f"{setting}.{key}: unknown key; expected one of {', '.join(STREAM_MAPPING_KEYS)}",
            )
    if "event_time" not in cfg:
        raise MappingConfigError(f"{setting}.event_time: required")

    event_name, name_rule, action_source, source_rule = _name_rules(cfg, setting, preset_keys)

    def source(key: str) -> Source:
        return compile_source(cfg[key], f"{setting}.{key}", from_preset=key in preset_keys)

    user_data = _compile_group(
        cfg.get("user_data", {}), f"{setting}.user_data", USER_DATA_KEYS, preset_keys, "user_data"
    )
    custom_data = _compile_group(
        cfg.get("custom_data", {}),
        f"{setting}.custom_data",
        CUSTOM_DATA_KEYS,
        preset_keys,
        "custom_data",
    )
    contents = None
    if "contents" in cfg:
        contents_cfg = dict(_require_mapping(cfg["contents"], f"{setting}.contents"))
        if "from" not in contents_cfg:
            raise MappingConfigError(f"{setting}.contents.from: required")
        array = compile_source(
            contents_cfg.pop("from"),
            f"{setting}.contents.from",
            from_preset="contents.from" in preset_keys,
        )
        items = _compile_group(
            contents_cfg, f"{setting}.contents", CONTENT_ITEM_KEYS, preset_keys, "contents"
        )
        contents = ContentsSpec(array=array, items=items)
    extra = {
        key: source(key) for key in (*EXTRA_STRING_FIELDS, *EXTRA_BOOLEAN_FIELDS) if key in cfg
    }

    hashed = {p for key, src in user_data.items() if key in HASHED_KEYS for p in src.dotted_paths()}
    return StreamMapping(
        stream=stream,
        event_name=event_name,
        action_source=action_source,
        event_time=source("event_time"),
        event_id=source("event_id") if "event_id" in cfg else None,
        user_data=user_data,
        custom_data=custom_data,
        contents=contents,
        hashed_paths=frozenset(hashed),
        event_name_rule=name_rule,
        action_source_rule=source_rule,
        event_per_item=source("event_per_item") if "event_per_item" in cfg else None,
        extra=extra,
        preset=preset,
    )


def compile_streams(spec: object) -> dict[str, StreamMapping]:
    """Compile the ``streams`` setting: stream name to mapping."""
    streams = _require_mapping(spec, "streams")
    return {name: compile_stream_mapping(name, cfg) for name, cfg in streams.items()}
