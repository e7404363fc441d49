"""The config parser of the mapping language: ``streams`` settings to mappings. Pure.

``parse_streams`` checks every key, shape and value of the ``streams`` setting, expands
presets, and returns one :class:`~.spec.StreamMapping` per stream. Every error is a
:class:`~.spec.MappingConfigError` naming the setting.

``event_name`` and ``action_source`` are constants written as plain strings; their
``*_from`` forms read them from the record.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from target_pinterest_conversions.mapping.filters import parse_skip_when
from target_pinterest_conversions.mapping.keys import (
    CONTENT_ITEM_KEYS,
    CUSTOM_DATA_KEYS,
    EVENT_NAME_FALLBACKS,
    EXTRA_BOOLEAN_FIELDS,
    EXTRA_STRING_FIELDS,
    HASHED_KEYS,
    INFO_KEYS,
    ITEM,
    STREAM_MAPPING_KEYS,
    USER_DATA_KEYS,
)
from target_pinterest_conversions.mapping.presets import PRESETS, expand_preset
from target_pinterest_conversions.mapping.spec import (
    ContentsSpec,
    MappingConfigError,
    NameRule,
    Source,
    StreamMapping,
)
from target_pinterest_conversions.pinterest.limits import ad_account_id
from target_pinterest_conversions.pinterest.vocabulary import (
    ACTION_SOURCES,
    BUILTIN_EVENT_MAPS,
    PINTEREST_EVENT_NAMES,
    name_key,
)

_SOURCE_FORMS = (
    'a path ("a.b"), a list of paths, {"const": value} or '
    '{"url_param": "name", "from": path or list of paths}'
)


def parse_source(spec: object, setting: str, *, from_preset: bool = False) -> Source:
    """Parse a value source from its setting.

    A path, a constant ``{"const": v}``, a URL's query parameter ``{"url_param": "epik",
    "from": <path or paths>}``, or a list of paths and ``url_param`` forms tried in order.
    """
    if isinstance(spec, Mapping) and set(spec) == {"const"}:
        return Source(const=spec["const"], from_preset=from_preset)
    items = spec if isinstance(spec, list) else [spec]
    paths: list[tuple[str, ...]] = []
    params: list[str | None] = []
    for item in items:
        for path, param in _alternatives(item, setting):
            paths.append(path)
            params.append(param)
    if not paths:
        raise MappingConfigError(f"{setting}: expected {_SOURCE_FORMS}")
    return Source(
        paths=tuple(paths),
        from_preset=from_preset,
        url_params=tuple(params) if any(params) else (),
    )


def _alternatives(item: object, setting: str) -> list[tuple[tuple[str, ...], str | None]]:
    """The ``(path, url parameter)`` pairs one item of a value source stands for."""
    if isinstance(item, str):
        return [(_parse_path(item, setting), None)]
    if isinstance(item, Mapping) and set(item) == {"url_param", "from"}:
        name = item["url_param"]
        if not isinstance(name, str) or not name.strip():
            raise MappingConfigError(f"{setting}.url_param: expected a query parameter name")
        urls = item["from"] if isinstance(item["from"], list) else [item["from"]]
        if not urls or not all(isinstance(url, str) for url in urls):
            raise MappingConfigError(f"{setting}.from: expected a path or a list of paths")
        return [(_parse_path(url, setting), name.strip()) for url in urls]
    raise MappingConfigError(f"{setting}: expected {_SOURCE_FORMS}")


def parse_ad_account_id(spec: object, setting: str) -> Source:
    """Parse a stream's ``ad_account_id``: its digits (a constant) or a value source.

    Text of digits (or a non-negative integer) is the account itself; other text, a list
    of paths or ``{"const": ...}`` is a value source. A constant must be 1 to 18 digits;
    paths must read the record (not ``$item``): one record goes to one account.
    """
    if (isinstance(spec, str) and spec.strip().isascii() and spec.strip().isdigit()) or (
        isinstance(spec, int) and not isinstance(spec, bool)
    ):
        spec = {"const": spec}
    expected = (
        f"{setting}: expected the ad account's id (1 to 18 digits), a path of a record "
        'field holding it ("a.b"), a list of paths or {"const": "<digits>"}'
    )
    if isinstance(spec, Mapping) and set(spec) == {"const"}:
        account = ad_account_id(spec["const"])
        if account is None:
            raise MappingConfigError(expected)
        return Source(const=account)
    if not isinstance(spec, (str, list)):
        raise MappingConfigError(expected)
    source = parse_source(spec, setting)
    if any(path[0] == ITEM for path in source.paths):
        raise MappingConfigError(
            f"{setting}: reads the record, not {ITEM}: each record goes to one ad account",
        )
    return source


def parse_event_id(spec: object, setting: str, *, from_preset: bool = False) -> Source:
    """Parse ``event_id``: a value source, or a template ``{"template": "checkout_{name}"}``.

    A template's braces hold dotted paths (``{customer.id}``); ``{{`` and ``}}`` are braces.
    """
    if not (isinstance(spec, Mapping) and set(spec) == {"template"}):
        return parse_source(spec, setting, from_preset=from_preset)
    text = spec["template"]
    where = f"{setting}.template"
    if not isinstance(text, str):
        raise MappingConfigError(f'{where}: expected text such as "checkout_{{name}}"')
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise MappingConfigError(f"{where}: {exc} (write {{{{ and }}}} for braces)") from None
    pieces, paths, literal = [], [], ""
    for before, name, spec_part, conversion in parts:
        literal += before
        if name is None:
            continue
        if spec_part or conversion:
            raise MappingConfigError(f"{where}: '{{{name}}}' takes no format or conversion")
        pieces.append(literal)
        literal = ""
        paths.append(_parse_path(name, where))
    if not paths:
        raise MappingConfigError(f'{where}: names no field in braces, e.g. "checkout_{{name}}"')
    return Source(paths=tuple(paths), from_preset=from_preset, template=(*pieces, literal))


def _parse_path(path: str, setting: str) -> tuple[str, ...]:
    segments = tuple(path.split("."))
    if not path or any(not s for s in segments):
        raise MappingConfigError(f"{setting}: '{path}' is not a valid dotted path")
    return segments


def _require_mapping(value: object, setting: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MappingConfigError(f"{setting}: expected an object")
    return value


def _parse_group(
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
        out[key] = parse_source(
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
            source=parse_source(
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
            source=parse_source(
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


def parse_stream_mapping(stream: str, spec: object) -> StreamMapping:
    """Parse the ``streams.<stream>`` setting.

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
        return parse_source(cfg[key], f"{setting}.{key}", from_preset=key in preset_keys)

    user_data = _parse_group(
        cfg.get("user_data", {}), f"{setting}.user_data", USER_DATA_KEYS, preset_keys, "user_data"
    )
    custom_data = _parse_group(
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
        array = parse_source(
            contents_cfg.pop("from"),
            f"{setting}.contents.from",
            from_preset="contents.from" in preset_keys,
        )
        items = _parse_group(
            contents_cfg, f"{setting}.contents", CONTENT_ITEM_KEYS, preset_keys, "contents"
        )
        contents = ContentsSpec(array=array, items=items)
    extra = {
        key: source(key) for key in (*EXTRA_STRING_FIELDS, *EXTRA_BOOLEAN_FIELDS) if key in cfg
    }
    info = {}
    for group, keys in INFO_KEYS.items():
        if group in cfg:
            sources = _parse_group(cfg[group], f"{setting}.{group}", keys, preset_keys, group)
            # The registry's order, whatever the setting's: an event's keys never move.
            if sources:
                info[group] = {key: sources[key] for key in keys if key in sources}

    skip_when = None
    if "skip_when" in cfg:
        in_preset = "skip_when" in preset_keys

        def condition_source(spec: object, where: str) -> Source:
            return parse_source(spec, where, from_preset=in_preset)

        skip_when = parse_skip_when(cfg["skip_when"], f"{setting}.skip_when", condition_source)

    hashed = {p for key, src in user_data.items() if key in HASHED_KEYS for p in src.dotted_paths()}
    return StreamMapping(
        stream=stream,
        event_name=event_name,
        action_source=action_source,
        event_time=source("event_time"),
        event_id=(
            parse_event_id(
                cfg["event_id"], f"{setting}.event_id", from_preset="event_id" in preset_keys
            )
            if "event_id" in cfg
            else None
        ),
        user_data=user_data,
        custom_data=custom_data,
        contents=contents,
        hashed_paths=frozenset(hashed),
        event_name_rule=name_rule,
        action_source_rule=source_rule,
        event_per_item=source("event_per_item") if "event_per_item" in cfg else None,
        extra=extra,
        preset=preset,
        skip_when=skip_when if skip_when is not None and skip_when.conditions else None,
        info=info,
        ad_account_id=(
            parse_ad_account_id(cfg["ad_account_id"], f"{setting}.ad_account_id")
            if cfg.get("ad_account_id") is not None
            else None
        ),
    )


def parse_streams(spec: object) -> dict[str, StreamMapping]:
    """Parse the ``streams`` setting: stream name to mapping."""
    streams = _require_mapping(spec, "streams")
    return {name: parse_stream_mapping(name, cfg) for name, cfg in streams.items()}
