"""The pipeline's common case compiled into one function per stream. Pure: no I/O.

:func:`compile_fast_path` turns a stream's mapping into one generated function,
``(record, id_key, now) -> event or None``, that does what
:func:`~..conversion.pipeline.convert_record` does (read the mapped values,
type them, normalize and hash personal data, check the event) with the same converters,
but without its intermediate objects: no :class:`~..mapping.spec.RawEvent`,
no raw groups, no per-field dispatch.

It takes only the path most records take: every value of its usual type, nothing
dropped, no warning, a valid event. Anything else makes it return ``None``, and the
caller runs ``convert_record``, which owns the reasons, dropped values and warnings. For
every record it accepts, it returns the event ``convert_record`` would build
(``tests/test_fast_path_equivalence.py`` compares the two on generated records for every preset).

Given the stream schema's types along the mapped paths, it also checks each value's
type as it reads it, and accepts only records the mapped-field validator would accept,
so that a record is read once rather than once to check and once to convert.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from target_pinterest_conversions.conversion._codegen.emit import (
    Decoded,
    Guards,
    all_decoded,
    code_namespace,
    define_function,
    guard_code,
    path_code,
    source_code,
)
from target_pinterest_conversions.conversion.checks import KNOWN_EVENT_NAMES, validate_event
from target_pinterest_conversions.conversion.event import (
    EXTRA_CONVERTERS,
    ITEM_CONVERTERS,
    add_item,
    add_partner_name,
    custom_converter,
    event_id_of,
    put_contents,
    put_custom_data,
    start_event,
)
from target_pinterest_conversions.conversion.geo import country_of
from target_pinterest_conversions.conversion.hashing import (
    REGIONAL_KEYS,
    digest_memo,
    digesters,
    text_digester,
)
from target_pinterest_conversions.conversion.info import INFO_CONVERTERS
from target_pinterest_conversions.conversion.rules import condition_test, resolve_name, value_test
from target_pinterest_conversions.conversion.schema import guards as schema_guards
from target_pinterest_conversions.conversion.text import DroppedValue
from target_pinterest_conversions.conversion.types import INLINE_FORMS, EventError
from target_pinterest_conversions.conversion.user_data import PLAIN_KEYS, PLAIN_NORMALIZERS
from target_pinterest_conversions.conversion.values import as_list_code
from target_pinterest_conversions.mapping.filters import SkipRule
from target_pinterest_conversions.mapping.spec import ContentsSpec, NameRule, Source, StreamMapping
from target_pinterest_conversions.pinterest.fields import CONTENTS, CUSTOM_DATA, field

FastPath = Callable[[Mapping[str, Any], object, int], "dict[str, Any] | None"]
"""``(record, id_key, now) -> event``; ``None`` sends the record down the full pipeline.

``id_key`` is what a derived event id is computed from: the record's key values, or the
record itself for a stream without key properties.
"""


def _indent(lines: list[str], depth: int) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]


def _typed(kind: str, target: str, fallback: str) -> list[str]:
    """Lines that store ``v`` typed into ``target``: the usual type inline, else ``fallback``.

    The inline forms are the converters' own (:data:`events.INLINE_FORMS`, held equal to
    them by their tests); a kind without one, or any other value, calls the converter.
    """
    form = INLINE_FORMS.get(kind)
    if form is None:
        # A converter's None is no value (custom_converter), left out as build_custom_data does.
        return [f"    if v is not None and (v := {fallback}) is not None: {target} = v"]
    return [
        "    if v is not None:",
        f"        if {form.test}: {target} = {form.result}",
        f"        else: {target} = {fallback}",
    ]


def _kind(key: str, *, item: bool) -> str:
    return field(CONTENTS if item else CUSTOM_DATA, key).kind


class _Builder:
    """Generates the fast path's lines for one mapping; holds the names they use."""

    def __init__(
        self, mapping: StreamMapping, guards: Guards | None, decoded: Decoded | None
    ) -> None:
        self.mapping = mapping
        self.guards = guards
        #: Where the decoder admitted only the guards' classes: read there, not checked.
        self.decoded = decoded
        self.ns = code_namespace()
        self.hoisted: dict[tuple[str, ...], str] = {}

    def read(self, src: Source, var: str, tag: str) -> list[str]:
        """Lines that leave ``src``'s value in ``var``, guarded when there are guards."""
        return source_code(
            src,
            var,
            "r",
            tag,
            self.ns,
            self.hoisted,
            self.guards,
            dict_root=self.checked,
            decoded=self.decoded,
        )

    @property
    def checked(self) -> bool:
        return self.guards is not None

    def only(self, src: Source, classes: frozenset[type]) -> bool:
        """Tell whether guards let through nothing but ``classes`` on all of ``src``'s paths."""
        if self.guards is None or src.is_const:
            return False
        for path in src.paths:
            allowed = self.guards(path)
            if allowed is None or not set(allowed) <= classes:
                return False
        return True

    def root(self) -> list[str]:
        """Lines that step aside for a record that is not a dict (checked mode only)."""
        return ["    if r.__class__ is not dict: return None"] if self.checked else []

    def to_check(self, src: Source) -> bool:
        """Tell whether ``src``'s paths need a check the decoder did not make."""
        return self.checked and not all_decoded(src, self.decoded)

    def hoist(self) -> list[str]:
        """Read once what several paths go through (``billingAddress``).

        Unchecked, only top-level fields are read ahead; checked, every path is read
        anyway, so any shared part is (``customer.defaultAddress``).
        """
        mapping = self.mapping
        sources = [mapping.event_time, *mapping.extra.values(), *mapping.custom_data.values()]
        sources += [*mapping.user_data.values()]
        sources += [src for group in mapping.info.values() for src in group.values()]
        if mapping.event_id is not None:
            sources.append(mapping.event_id)
        if mapping.contents is not None:
            sources.append(mapping.contents.array)
        deepest = None if self.checked else 1
        shared = Counter(
            path[:k]
            for src in sources
            for path in src.paths
            if not any(segment.isdigit() for segment in path)
            for k in range(1, len(path) if deepest is None else min(len(path), deepest + 1))
        )
        lines: list[str] = []
        for prefix in sorted(shared, key=len):
            if shared[prefix] < 2:
                continue
            var = f"h{len(self.hoisted)}"
            lines += path_code(
                prefix,
                f"p_{var}",
                "r",
                "    ",
                self.ns,
                self.hoisted,
                self.guards,
                dict_root=self.checked,
                decoded=self.decoded,
            )
            lines.append(f"    {var} = x")
            self.hoisted[prefix] = var
        return lines

    def rule(self, var: str, rule: NameRule) -> list[str]:
        if rule.source is None:
            self.ns[f"const_{var}"] = rule.const
            return [f"    {var} = const_{var}"]
        self.ns[f"rule_{var}"] = functools.partial(resolve_name, rule)
        return [
            *self.read(rule.source, "_", var),
            f"    {var}, reason, skipped = rule_{var}(_)",
            "    if reason is not None: return None",
        ]

    def skip(self, rule: SkipRule) -> list[str]:
        """Lines that step aside for a record ``skip_when`` leaves out.

        The full route counts such a record by its reason. Each field condition is its
        rule's own value test, given the value read here; a combination (``all_of``,
        ``any_of``) reads its fields itself, after they are read here to be checked.
        """
        lines: list[str] = []
        for i, condition in enumerate(rule.conditions):
            if condition.source is not None:
                self.ns[f"skip_{i}"] = value_test(condition)
                lines += self.read(condition.source, "_", f"k{i}")
                lines.append(f"    if skip_{i}(_): return None")
                continue
            for j, src in enumerate(condition.sources()):
                lines += self.read(src, "_", f"k{i}_{j}") if self.to_check(src) else []
            self.ns[f"skip_{i}"] = condition_test(condition)
            lines.append(f"    if skip_{i}(r): return None")
        return lines

    def custom_data(self) -> list[str]:
        ns = self.ns
        lines = ["    cd = {}"]
        for i, (key, src) in enumerate(self.mapping.custom_data.items()):
            ns[f"conv_c{i}"] = custom_converter(key)
            lines += self.read(src, "v", f"c{i}")
            lines += _typed(_kind(key, item=False), f"cd[{key!r}]", f"conv_c{i}(v)")
        if self.mapping.contents is not None:
            lines += self.contents(self.mapping.contents)
        lines.append("    _put_custom_data(ev, cd)")
        return lines

    def contents(self, contents: ContentsSpec) -> list[str]:
        ns = self.ns
        lines = self.read(contents.array, "arr", "a")
        item_guards = element = item_decoded = None
        if self.guards is not None:
            guards, decoded = self.guards, self.decoded
            (array,) = contents.array.paths
            element = guards((*array, "[]"))
            if decoded is not None and decoded((*array, "[]")):
                element = None  # the decoder admitted only the guard's classes

            def item_guards(path: tuple[str, ...]) -> tuple[type, ...] | None:
                return guards((*array, "[]", *path))

            if decoded is not None:

                def item_decoded(path: tuple[str, ...]) -> bool:
                    return decoded((*array, "[]", *path))

        item: list[str] = ["it = {}"]
        for j, (key, src) in enumerate(contents.items.items()):
            ns[f"conv_i{j}"] = ITEM_CONVERTERS[key]
            read = source_code(
                src, "v", "e", f"i{j}", ns, guards=item_guards, dict_root=True, decoded=item_decoded
            )
            item += [line[4:] for line in read]
            typed = _typed(_kind(key, item=True), f"it[{key!r}]", f"conv_i{j}(v, {key!r})")
            item += [line[4:] for line in typed]
        item.append("_add_item(items, it)")
        return [
            *lines,
            "    if arr is not None:",
            f"        {as_list_code('arr')}",
            "        items = []",
            "        for e in arr:",
            *guard_code("e", element, "e", ns, "            "),
            "            if e.__class__ is not dict:",
            "                if isinstance(e, _Mapping): return None",
            "                continue",
            *_indent(item, 3),
            "        _put_contents(cd, items)",
        ]

    def user_data(self, default_country: str | None) -> list[str]:
        ns = self.ns
        mapping = self.mapping
        keys = list(mapping.user_data)
        lines: list[str] = []
        for i, src in enumerate(mapping.user_data.values()):
            lines += self.read(src, f"u{i}", f"u{i}")
        if any(key in REGIONAL_KEYS for key in keys):
            if "country" in keys:
                ns["_default_country"] = default_country
                lines.append(
                    f"    country = _country_of(u{keys.index('country')}, _default_country)"
                )
            else:
                # The record has no country of its own: the rule's answer for none.
                ns["country"] = country_of(None, default_country)
            lines.append("    dg = _digesters(country)")
        lines.append("    ud = {}")
        for i, (key, src) in enumerate(mapping.user_data.items()):
            if key in PLAIN_KEYS:
                ns[f"plain_{key}"] = PLAIN_NORMALIZERS[key]
                put = f"ud[{key!r}] = plain_{key}(u{i})"
            elif key in REGIONAL_KEYS:
                put = f"ud[{key!r}] = [dg[{key!r}](u{i})]"
            else:
                # A memo hit costs a dict lookup, not a call.
                ns[f"digest_{key}"] = text_digester(key)
                ns[f"memo_{key}"] = digest_memo(key)
                put = f"ud[{key!r}] = [memo_{key}.get(u{i}) or digest_{key}(u{i})]"
            # Blank text was read as no value (values.is_empty); a blank constant makes
            # the digester refuse it, and the full pipeline then leaves it out.
            lines.append(f"    if u{i} is not None:")
            if not self.only(src, _TEXT_OR_NULL):
                lines.append(f"        if u{i}.__class__ is not str: return None")
            lines.append(f"        {put}")
        lines.append("    ev['user_data'] = ud")
        return lines

    def info(self) -> list[str]:
        """Lines that set each object group (``app_info``, ``device_info``) with a value.

        Each value goes through its checked converter, the full pipeline's own: one
        it would leave out raises, and the record takes the full pipeline, which
        counts it.
        """
        lines: list[str] = []
        for j, (group, sources) in enumerate(self.mapping.info.items()):
            lines.append("    ob = {}")
            for i, (key, src) in enumerate(sources.items()):
                self.ns[f"conv_o{j}_{i}"] = INFO_CONVERTERS[group][key]
                lines += self.read(src, "v", f"o{j}_{i}")
                lines.append(
                    f"    if v is not None and (v := conv_o{j}_{i}(v)) is not None: ob[{key!r}] = v"
                )
            lines.append(f"    if ob: ev[{group!r}] = ob")
        return lines


_TEXT_OR_NULL: frozenset[type] = frozenset({str, type(None)})


def _guardable(mapping: StreamMapping) -> bool:
    """Tell whether every path the mapping reads can be checked as the fast path reads it."""
    if mapping.contents is not None and len(mapping.contents.array.paths) != 1:
        # The validator checks the items of every candidate array; the fast path
        # iterates only the one it takes.
        return False
    sources = [src for _, src in mapping.sources()]
    if mapping.contents is not None:
        sources += mapping.contents.items.values()
    return not any(
        segment.isdigit() or segment == "[]"
        for src in sources
        for path in src.paths
        for segment in path
    )


def compile_fast_path(
    mapping: StreamMapping,
    *,
    partner_name: str | None = None,
    default_country: str | None = None,
    types: Mapping[str, Any] | None = None,
    output: str = "api",
    decoded: Decoded | None = None,
) -> FastPath | None:
    """Compile the common case of ``convert_record`` for one stream's mapping.

    With ``types`` (:attr:`MappedFieldsValidator.type_schema`), the function also
    checks the class of every value along the mapped paths as it reads them, and
    returns an event only for a record that the validator would accept: the record
    is then read once, not twice. Where ``decoded`` holds, the decoder has checked
    those classes (``conversion.partial``): they only shape the reads there, and a
    fallback list it holds entirely is read up to its first value.

    Returns ``None`` for mappings with ``event_per_item`` (one record then gives
    several events, and the full pipeline handles it), and, with ``types``, for
    mappings whose paths it cannot check as it reads (list indexes, several
    ``contents.from`` arrays).
    """
    if mapping.event_per_item is not None:
        return None
    guards: Guards | None = None
    if types is not None:
        if not _guardable(mapping):
            return None
        guards = schema_guards(types)
    build = _Builder(mapping, guards, decoded if guards is not None else None)
    build.ns.update(
        _start=start_event,
        _event_id=event_id_of,
        _add_partner=add_partner_name,
        _add_item=add_item,
        _put_contents=put_contents,
        _put_custom_data=put_custom_data,
        _validate=validate_event,
        _output=output,
        _known=KNOWN_EVENT_NAMES,
        _country_of=country_of,
        _digesters=digesters,
        _stream=mapping.stream,
        _partner=partner_name,
        _Decimal=Decimal,
        _Expected=(EventError, DroppedValue),
    )
    read = build.read
    body = build.root()
    body += build.hoist()
    if mapping.skip_when is not None:
        body += build.skip(mapping.skip_when)
    body += build.rule("name", mapping.name_rule)
    body.append("    if name not in _known: return None")
    body += build.rule("source", mapping.source_rule)
    body += read(mapping.event_time, "t", "t")
    body.append("    ev = _start(name, source, t)")
    if mapping.event_id is None:
        body.append("    ev['event_id'] = _event_id(None, _stream, id_key, name)")
    else:
        body += read(mapping.event_id, "v", "i")
        body.append("    ev['event_id'] = _event_id(v, _stream, id_key, name)")
    for i, (key, src) in enumerate(mapping.extra.items()):
        build.ns[f"conv_x{i}"] = EXTRA_CONVERTERS[key]
        body += read(src, "v", f"x{i}")
        body.append(f"    if v is not None: ev[{key!r}] = conv_x{i}(v, {key!r})")
    if partner_name:
        body.append("    _add_partner(ev, _partner)")
    body += build.custom_data()
    body += build.user_data(default_country)
    body += build.info()  # last, as in the full pipeline (tests/test_info.py)
    body += ["    if _validate(ev, now, _output): return None", "    return ev"]
    lines = [
        "def fast(r, id_key, now):",
        "  try:",
        *["  " + line for line in body],
        "  except _Expected:",
        "    return None",
    ]
    return define_function(lines, build.ns, "fast")
