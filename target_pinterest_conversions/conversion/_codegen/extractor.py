"""The generated extractor of a stream mapping: one function per stream. Pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from target_pinterest_conversions.conversion._codegen.emit import (
    code_namespace,
    compile_group,
    define_function,
    group_code,
    source_code,
)
from target_pinterest_conversions.conversion.rules import name_resolver
from target_pinterest_conversions.conversion.values import as_list_code
from target_pinterest_conversions.mapping.spec import RawEvent, StreamMapping


def compile_extractor(mapping: StreamMapping) -> Callable[[Any, int | None], RawEvent]:
    """Compile the whole mapping into one function: (record, item index) -> RawEvent.

    One generated function reads every mapped field, so a record costs one call
    instead of one per group, source and path.
    """
    ns = code_namespace()
    ns["_Raw"] = RawEvent
    lines = ["def extract(r, index):"]
    for var, rule in (("name", mapping.name_rule), ("source", mapping.source_rule)):
        if rule.source is None:
            ns[f"const_{var}"] = rule.const
            lines.append(f"    {var}, {var}_reason, {var}_skipped = const_{var}, None, False")
        else:
            ns[f"rule_{var}"] = name_resolver(rule)
            lines.append(f"    {var}, {var}_reason, {var}_skipped = rule_{var}(r)")
    lines += source_code(mapping.event_time, "time", "r", "t", ns)
    if mapping.event_id is None:
        lines.append("    event_id = None")
    else:
        lines += source_code(mapping.event_id, "event_id", "r", "i", ns)
    lines += group_code(mapping.user_data, "ud", "r", "u", ns)
    lines += group_code(mapping.custom_data, "cd", "r", "c", ns)
    if mapping.contents is None:
        lines.append("    contents = None")
    else:
        ns["_item"] = compile_group(mapping.contents.items)
        lines += source_code(mapping.contents.array, "arr", "r", "a", ns)
        lines += [
            "    if arr is None:",
            "        contents = None",
            "    else:",
            f"        {as_list_code('arr')}",
            "        contents = [_item(e) for e in arr if isinstance(e, _Mapping)]",
        ]
    lines += group_code(mapping.extra, "ex", "r", "x", ns)
    info = []
    for j, (group, sources) in enumerate(mapping.info.items()):
        lines += group_code(sources, f"in{j}", "r", f"o{j}_", ns)
        info.append(f"{group!r}: in{j}")
    lines.append(
        "    return _Raw(name, source, time, event_id, ud, cd, contents, ex, index, "
        f"name_reason or source_reason, name_skipped, {{{', '.join(info)}}})"
    )
    return define_function(lines, ns, "extract")
