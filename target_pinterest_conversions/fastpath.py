"""The pipeline's common case compiled into one function per stream. Pure: no I/O.

:func:`compile_fast_path` turns a stream's mapping into one generated function,
``(record, id_key, now) -> event or None``, that does what
:func:`~target_pinterest_conversions.pipeline.convert_record` does (read the mapped values,
type them, normalize and hash personal data, check the event) with the same converters,
but without its intermediate objects: no :class:`~target_pinterest_conversions.mapping.RawEvent`,
no raw groups, no per-field dispatch.

It takes only the path most records take: every value of its usual type, nothing
dropped, no warning, a valid event. Anything else makes it return ``None``, and the
caller runs ``convert_record``, which owns the reasons, dropped values and warnings. For
every record it accepts, it returns the event ``convert_record`` would build
(``tests/test_fastpath.py`` compares the two on generated records for every preset).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from target_pinterest_conversions.events import (
    BOOLEAN_FIELDS,
    ITEM_CONVERTERS,
    STRING_FIELDS,
    EventError,
    custom_converter,
    derive_event_id,
    derive_from_contents,
    to_bool,
    to_str,
    to_unix_seconds,
)
from target_pinterest_conversions.mapping import (
    NameRule,
    StreamMapping,
    code_namespace,
    define_function,
    source_code,
)
from target_pinterest_conversions.privacy import (
    PLAIN_KEYS,
    DroppedValue,
    country_of,
    normalize_plain,
    text_digester,
)
from target_pinterest_conversions.validation import KNOWN_EVENT_NAMES, validate_event

FastPath = Callable[[Mapping[str, Any], object, int], "dict[str, Any] | None"]
"""``(record, id_key, now) -> event``; ``None`` sends the record down the full pipeline.

``id_key`` is what a derived event id is computed from: the record's key values, or the
record itself for a stream without key properties.
"""

_REGIONAL = ("ph", "st")
_ITEM_TEXT = frozenset({"id", "item_name", "item_category", "item_brand"})


def _indent(lines: list[str], depth: int) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]


def _typed(kind: str, target: str, fallback: str) -> list[str]:
    """Lines that store ``v`` typed into ``target``: the usual type inline, else ``fallback``.

    The inline forms give what the converters give for that type (the differential
    test compares them); any other value goes through the converter itself.
    """
    if kind == "str":
        test = "v.__class__ is str and (s := v.strip())"
        fast = "s"
    elif kind == "int":
        test, fast = "v.__class__ is int", "v"
    elif kind == "currency":
        test = "v.__class__ is str and len(s := v.strip()) == 3 and s.isascii() and s.isalpha()"
        fast = "s.upper()"
    else:
        return [f"    if v is not None: {target} = {fallback}"]
    return [
        "    if v is not None:",
        f"        if {test}: {target} = {fast}",
        f"        else: {target} = {fallback}",
    ]


def _kind(key: str, *, item: bool) -> str:
    if key in (_ITEM_TEXT if item else STRING_FIELDS):
        return "str"
    if key in ("quantity", "num_items"):
        return "int"
    return "currency" if key == "currency" else "other"


def _hoist(mapping: StreamMapping) -> tuple[dict[str, str], list[str]]:
    """Read once each top-level field that several paths go through (``billingAddress``)."""
    sources = [mapping.event_time, *mapping.extra.values(), *mapping.custom_data.values()]
    sources += [*mapping.user_data.values()]
    if mapping.event_id is not None:
        sources.append(mapping.event_id)
    if mapping.contents is not None:
        sources.append(mapping.contents.array)
    firsts = Counter(
        path[0]
        for src in sources
        for path in src.paths
        if len(path) > 1 and not any(segment.isdigit() for segment in path)
    )
    hoisted: dict[str, str] = {}
    lines: list[str] = []
    for first, uses in firsts.items():
        if uses > 1:
            hoisted[first] = var = f"h{len(hoisted)}"
            lines.append(
                f"    {var} = r.get({first!r}) if r.__class__ is dict "
                f"else _resolve(r, ({first!r},))"
            )
    return hoisted, lines


def _rule_code(var: str, rule: NameRule, ns: dict[str, Any]) -> list[str]:
    if rule.source is None:
        ns[f"const_{var}"] = rule.const
        return [f"    {var} = const_{var}"]
    ns[f"rule_{var}"] = rule.resolve
    return [
        f"    {var}, reason, skipped = rule_{var}(r)",
        "    if reason is not None: return None",
    ]


def _custom_data_code(
    mapping: StreamMapping, ns: dict[str, Any], hoisted: Mapping[str, str]
) -> list[str]:
    lines = ["    cd = {}"]
    for i, (key, src) in enumerate(mapping.custom_data.items()):
        ns[f"conv_c{i}"] = custom_converter(key)
        lines += source_code(src, "v", "r", f"c{i}", ns, hoisted)
        if key == "content_ids":
            # An empty list of ids is left out, as build_custom_data does.
            lines += [
                "    if v is not None:",
                f"        v = conv_c{i}(v)",
                f"        if v != []: cd[{key!r}] = v",
            ]
        else:
            lines += _typed(_kind(key, item=False), f"cd[{key!r}]", f"conv_c{i}(v)")
    if mapping.contents is not None:
        lines += source_code(mapping.contents.array, "arr", "r", "a", ns, hoisted)
        item: list[str] = ["it = {}"]
        for j, (key, src) in enumerate(mapping.contents.items.items()):
            ns[f"conv_i{j}"] = ITEM_CONVERTERS[key]
            item += [line[4:] for line in source_code(src, "v", "e", f"i{j}", ns)]
            typed = _typed(_kind(key, item=True), f"it[{key!r}]", f"conv_i{j}(v, {key!r})")
            item += [line[4:] for line in typed]
        item.append("if it: items.append(it)")
        lines += [
            "    if arr is not None:",
            "        if arr.__class__ is not list: arr = [arr]",
            "        items = []",
            "        for e in arr:",
            "            if e.__class__ is not dict:",
            "                if isinstance(e, _Mapping): return None",
            "                continue",
            *_indent(item, 3),
            "        if items: cd['contents'] = items",
        ]
    lines += ["    _derive_contents(cd)", "    if cd: ev['custom_data'] = cd"]
    return lines


def _user_data_code(
    mapping: StreamMapping,
    default_country: str | None,
    ns: dict[str, Any],
    hoisted: Mapping[str, str],
) -> list[str]:
    keys = list(mapping.user_data)
    lines: list[str] = []
    for i, src in enumerate(mapping.user_data.values()):
        lines += source_code(src, f"u{i}", "r", f"u{i}", ns, hoisted)
    regional = [key for key in keys if key in _REGIONAL]
    if regional:
        if "country" in keys:
            ns["_default_country"] = default_country
            lines.append(f"    country = _country_of(u{keys.index('country')}, _default_country)")
        else:
            ns["country"] = default_country.lower() if default_country else None
    lines.append("    ud = {}")
    for i, key in enumerate(keys):
        if key in PLAIN_KEYS:
            put = f"ud[{key!r}] = _plain(u{i})"
        elif key in _REGIONAL:
            put = f"ud[{key!r}] = [_digester({key!r}, country)(u{i})]"
        else:
            ns[f"digest_{key}"] = text_digester(key)
            put = f"ud[{key!r}] = [digest_{key}(u{i})]"
        lines += [
            f"    if u{i} is not None:",
            f"        if u{i}.__class__ is not str: return None",
            f"        if not u{i}.isspace(): {put}",
        ]
    lines.append("    ev['user_data'] = ud")
    return lines


def compile_fast_path(
    mapping: StreamMapping,
    *,
    partner_name: str | None = None,
    default_country: str | None = None,
) -> FastPath | None:
    """Compile the common case of ``convert_record`` for one stream's mapping.

    Returns ``None`` for mappings with ``event_per_item``: one record then gives several
    events, and the full pipeline handles it.
    """
    if mapping.event_per_item is not None:
        return None
    ns = code_namespace()
    ns.update(
        _unix=to_unix_seconds,
        _to_str=to_str,
        _to_bool=to_bool,
        _derive_id=derive_event_id,
        _derive_contents=derive_from_contents,
        _validate=validate_event,
        _known=KNOWN_EVENT_NAMES,
        _country_of=country_of,
        _digester=text_digester,
        _plain=normalize_plain,
        _stream=mapping.stream,
        _partner=partner_name,
        _Expected=(EventError, DroppedValue),
    )
    hoisted, body = _hoist(mapping)
    body += _rule_code("name", mapping._name_rule, ns)  # type: ignore[attr-defined]
    body.append("    if name not in _known: return None")
    body += _rule_code("source", mapping._source_rule, ns)  # type: ignore[attr-defined]
    body += source_code(mapping.event_time, "t", "r", "t", ns, hoisted)
    body.append("    ev = {'event_name': name, 'action_source': source, 'event_time': _unix(t)}")
    if mapping.event_id is None:
        body.append("    ev['event_id'] = _derive_id(_stream, id_key, name)")
    else:
        body += source_code(mapping.event_id, "v", "r", "i", ns, hoisted)
        body += [
            "    if v is None: ev['event_id'] = _derive_id(_stream, id_key, name)",
            "    elif v.__class__ is str and (s := v.strip()): ev['event_id'] = s",
            "    else: ev['event_id'] = _to_str(v, 'event_id')",
        ]
    for i, (key, src) in enumerate(mapping.extra.items()):
        convert = "_to_bool" if key in BOOLEAN_FIELDS else "_to_str"
        body += source_code(src, "v", "r", f"x{i}", ns, hoisted)
        body.append(f"    if v is not None: ev[{key!r}] = {convert}(v, {key!r})")
    if partner_name:
        body.append("    if 'partner_name' not in ev: ev['partner_name'] = _partner")
    body += _custom_data_code(mapping, ns, hoisted)
    body += _user_data_code(mapping, default_country, ns, hoisted)
    body += ["    if _validate(ev, now): return None", "    return ev"]
    lines = [
        "def fast(r, id_key, now):",
        "  try:",
        *["  " + line for line in body],
        "  except _Expected:",
        "    return None",
    ]
    return define_function(lines, ns, "fast")  # type: ignore[no-any-return]
