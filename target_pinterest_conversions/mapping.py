"""Per-stream mapping from a record to the raw parts of a Pinterest event.

A stream's mapping (the ``streams.<name>`` setting) is compiled once into a
:class:`StreamMapping`; :meth:`StreamMapping.extract` then reads one record into a
:class:`RawEvent` without converting or hashing anything. Pure: no I/O.

A *value source* is one of:

- a dotted path into the record, e.g. ``"billingAddress.zip"`` (a numeric segment
  indexes a list: ``"lineItems.0.sku"``);
- a list of paths, the first one giving a non-empty value wins;
- a constant, written ``{"const": <value>}``.

``event_name`` and ``action_source`` are constants written as plain strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from target_pinterest_conversions.privacy import HASHED_KEYS, USER_DATA_KEYS

ACTION_SOURCES: tuple[str, ...] = ("web", "app_android", "app_ios", "offline")

CUSTOM_DATA_KEYS: tuple[str, ...] = (
    "value",
    "currency",
    "order_id",
    "num_items",
    "content_ids",
    "content_name",
    "content_category",
    "content_brand",
    "search_string",
    "opt_out_type",
    "predicted_ltv",
)

CONTENT_ITEM_KEYS: tuple[str, ...] = (
    "id",
    "item_price",
    "quantity",
    "item_name",
    "item_category",
    "item_brand",
)

STREAM_MAPPING_KEYS: tuple[str, ...] = (
    "event_name",
    "action_source",
    "event_time",
    "event_id",
    "user_data",
    "custom_data",
    "contents",
)


class MappingConfigError(ValueError):
    """A stream mapping setting is invalid; the message names the setting."""


_MISSING = object()


def _is_empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def resolve_path(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at ``path`` in ``record``, or ``None`` when any step is absent."""
    current: Any = record
    for segment in path:
        if isinstance(current, Mapping):
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
    """Where one value comes from: alternative paths, or a constant."""

    paths: tuple[tuple[str, ...], ...] = ()
    const: Any = _MISSING

    def get(self, record: Mapping[str, Any]) -> Any:
        """Return the constant, or the first non-empty value found along ``paths``."""
        if self.const is not _MISSING:
            return self.const
        for path in self.paths:
            value = resolve_path(record, path)
            if not _is_empty(value):
                return value
        return None

    def dotted_paths(self) -> list[str]:
        """Return the record paths this source reads, in dotted form."""
        return [".".join(path) for path in self.paths]


def compile_source(spec: object, setting: str) -> Source:
    """Compile a value source from its setting (path, list of paths or constant)."""
    if isinstance(spec, str):
        return Source(paths=(_compile_path(spec, setting),))
    if isinstance(spec, list) and spec and all(isinstance(p, str) for p in spec):
        return Source(paths=tuple(_compile_path(p, setting) for p in spec))
    if isinstance(spec, Mapping) and set(spec) == {"const"}:
        return Source(const=spec["const"])
    raise MappingConfigError(
        f'{setting}: expected a path ("a.b"), a list of paths or {{"const": value}}',
    )


def _compile_path(path: str, setting: str) -> tuple[str, ...]:
    segments = tuple(path.split("."))
    if not path or any(not s for s in segments):
        raise MappingConfigError(f"{setting}: '{path}' is not a valid dotted path")
    return segments


@dataclass(frozen=True)
class ContentsSpec:
    """Where the ``contents`` array comes from and how each element maps to an item."""

    array: Source
    items: Mapping[str, Source]

    def extract(self, record: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """Return one raw item per element of the source array, or ``None``."""
        elements = self.array.get(record)
        if elements is None:
            return None
        if not isinstance(elements, list):
            elements = [elements]
        out = []
        for element in elements:
            if not isinstance(element, Mapping):
                continue
            item = {key: src.get(element) for key, src in self.items.items()}
            out.append({k: v for k, v in item.items() if v is not None})
        return out


@dataclass
class RawEvent:
    """The raw parts of one event, read from a record but not yet converted."""

    event_name: Any
    action_source: Any
    event_time: Any
    event_id: Any
    user_data: dict[str, Any]
    custom_data: dict[str, Any]
    contents: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class StreamMapping:
    """The compiled mapping of one stream."""

    stream: str
    event_name: str
    action_source: str
    event_time: Source
    event_id: Source | None
    user_data: Mapping[str, Source]
    custom_data: Mapping[str, Source]
    contents: ContentsSpec | None = None
    hashed_paths: frozenset[str] = field(default_factory=frozenset)

    def extract(self, record: Mapping[str, Any]) -> RawEvent:
        """Read the raw event parts from ``record``."""
        return RawEvent(
            event_name=self.event_name,
            action_source=self.action_source,
            event_time=self.event_time.get(record),
            event_id=self.event_id.get(record) if self.event_id else None,
            user_data={
                k: v for k, src in self.user_data.items() if (v := src.get(record)) is not None
            },
            custom_data={
                k: v for k, src in self.custom_data.items() if (v := src.get(record)) is not None
            },
            contents=self.contents.extract(record) if self.contents else None,
        )

    def record_paths(self) -> list[tuple[str, str]]:
        """Return ``(setting, dotted path)`` for every record path the mapping reads.

        Paths inside ``contents`` items are given under their array as ``from.[].item``.
        """
        prefix = f"streams.{self.stream}"
        out = [(f"{prefix}.event_time", p) for p in self.event_time.dotted_paths()]
        if self.event_id:
            out += [(f"{prefix}.event_id", p) for p in self.event_id.dotted_paths()]
        for group, sources in (("user_data", self.user_data), ("custom_data", self.custom_data)):
            for key, src in sources.items():
                out += [(f"{prefix}.{group}.{key}", p) for p in src.dotted_paths()]
        if self.contents:
            arrays = self.contents.array.dotted_paths()
            out += [(f"{prefix}.contents.from", p) for p in arrays]
            for key, src in self.contents.items.items():
                out += [
                    (f"{prefix}.contents.{key}", f"{array}.[].{item}")
                    for array in arrays
                    for item in src.dotted_paths()
                ]
        return out


def _require_mapping(value: object, setting: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MappingConfigError(f"{setting}: expected an object")
    return value


def _compile_group(
    spec: object,
    setting: str,
    allowed: Sequence[str],
) -> dict[str, Source]:
    group = _require_mapping(spec, setting)
    out = {}
    for key, source in group.items():
        if key not in allowed:
            raise MappingConfigError(
                f"{setting}.{key}: unknown key; expected one of {', '.join(allowed)}",
            )
        out[key] = compile_source(source, f"{setting}.{key}")
    return out


def compile_stream_mapping(stream: str, spec: object) -> StreamMapping:
    """Compile the ``streams.<stream>`` setting.

    Raises:
        MappingConfigError: a key is unknown, missing or of the wrong shape; the
            message names the setting, e.g. ``streams.orders.action_source``.

    """
    setting = f"streams.{stream}"
    cfg = _require_mapping(spec, setting)
    for key in cfg:
        if key not in STREAM_MAPPING_KEYS:
            raise MappingConfigError(
                f"{setting}.{key}: unknown key; expected one of {', '.join(STREAM_MAPPING_KEYS)}",
            )
    for key in ("event_name", "action_source", "event_time"):
        if key not in cfg:
            raise MappingConfigError(f"{setting}.{key}: required")

    event_name = cfg["event_name"]
    if not isinstance(event_name, str) or not event_name.strip():
        raise MappingConfigError(f"{setting}.event_name: expected a Pinterest event name")
    action_source = cfg["action_source"]
    if action_source not in ACTION_SOURCES:
        raise MappingConfigError(
            f"{setting}.action_source: expected one of {', '.join(ACTION_SOURCES)}",
        )

    user_data = _compile_group(cfg.get("user_data", {}), f"{setting}.user_data", USER_DATA_KEYS)
    custom_data = _compile_group(
        cfg.get("custom_data", {}),
        f"{setting}.custom_data",
        CUSTOM_DATA_KEYS,
    )
    contents = None
    if "contents" in cfg:
        contents_cfg = dict(_require_mapping(cfg["contents"], f"{setting}.contents"))
        if "from" not in contents_cfg:
            raise MappingConfigError(f"{setting}.contents.from: required")
        array = compile_source(contents_cfg.pop("from"), f"{setting}.contents.from")
        items = _compile_group(contents_cfg, f"{setting}.contents", CONTENT_ITEM_KEYS)
        contents = ContentsSpec(array=array, items=items)

    hashed = {p for key, src in user_data.items() if key in HASHED_KEYS for p in src.dotted_paths()}
    return StreamMapping(
        stream=stream,
        event_name=event_name.strip(),
        action_source=action_source,
        event_time=compile_source(cfg["event_time"], f"{setting}.event_time"),
        event_id=compile_source(cfg["event_id"], f"{setting}.event_id")
        if "event_id" in cfg
        else None,
        user_data=user_data,
        custom_data=custom_data,
        contents=contents,
        hashed_paths=frozenset(hashed),
    )


def compile_streams(spec: object) -> dict[str, StreamMapping]:
    """Compile the ``streams`` setting: stream name to mapping."""
    streams = _require_mapping(spec, "streams")
    return {name: compile_stream_mapping(name, cfg) for name, cfg in streams.items()}
