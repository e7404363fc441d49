"""The parsed model of one stream's mapping: sources, name rules, the raw event. Pure.

A :class:`StreamMapping` is what :func:`~.parse.parse_stream_mapping` makes of the
``streams.<name>`` setting: plain data, nothing compiled. Conversion reads a record with
it (:class:`~target_pinterest_conversions.conversion.reading.StreamReader`) into one
:class:`RawEvent`, or one per item with ``event_per_item``, from code it generates once
per stream.

A *value source* is one of:

- a dotted path into the record, e.g. ``"billingAddress.zip"`` (a numeric segment
  indexes a list: ``"lineItems.0.sku"``; with ``event_per_item``, ``"$item.sku"`` reads
  the current item);
- a list of paths, the first one giving a non-empty value wins;
- a constant, written ``{"const": <value>}``;
- for ``event_id``, a template, ``{"template": "checkout_{name}"}``: text with the values
  of the paths in braces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from target_pinterest_conversions.errors import ConfigError
from target_pinterest_conversions.mapping.keys import ITEM

if TYPE_CHECKING:
    from target_pinterest_conversions.mapping.filters import SkipRule


class MappingConfigError(ConfigError):
    """A stream mapping setting is invalid; the message names the setting."""


_MISSING = object()


@dataclass(frozen=True)
class Source:
    """Where one value comes from: alternative paths, or a constant.

    ``url_params`` pairs with ``paths``: where it names a parameter, the path holds a URL
    and the value is that query parameter's (empty: every path is read as it is).
    ``from_preset`` marks a preset's source: when bound to a schema, its paths that the
    schema lacks are dropped rather than reported. ``template`` (``event_id`` only) holds
    the literal text around each path's value: ``("checkout_", "")`` with the path
    ``name`` reads ``checkout_#1001``; every path is then read, none is an alternative.
    """

    paths: tuple[tuple[str, ...], ...] = ()
    const: Any = _MISSING
    from_preset: bool = False
    url_params: tuple[str | None, ...] = ()
    template: tuple[str, ...] = ()

    @property
    def is_const(self) -> bool:
        """Tell whether the source is a constant."""
        return self.const is not _MISSING

    def dotted_paths(self) -> list[str]:
        """Return the record paths this source reads, in dotted form."""
        return [".".join(path) for path in self.paths]

    def url_param(self, index: int) -> str | None:
        """Return the query parameter read from the URL at ``paths[index]``, if any."""
        return self.url_params[index] if index < len(self.url_params) else None


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


@dataclass(frozen=True)
class ContentsSpec:
    """Where the ``contents`` array comes from and how each element maps to an item."""

    array: Source
    items: Mapping[str, Source]


@dataclass(slots=True)
class RawEvent:
    """The raw parts of one event, read from a record but not yet converted.

    ``reason`` is set when the record yields no event: ``skipped`` tells an unmapped
    event name left out on purpose (``skip`` fallback) from a record that cannot be an
    event (empty event name, invalid action source). ``info`` holds the raw values of
    each mapped object group (``app_info``, ``device_info``), keyed by group.
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
    info: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamMapping:
    """The parsed mapping of one stream: plain data, read by conversion's generated code.

    ``info`` maps each object group the mapping sets (``app_info``, ``device_info``, in
    event order) to its sources, keys in the registry's order.
    """

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
    skip_when: SkipRule | None = None
    info: Mapping[str, Mapping[str, Source]] = field(default_factory=dict)
    ad_account_id: Source | None = None
    """The stream's own ad account (a constant, or record paths); ``None``: the top-level one."""

    @property
    def name_rule(self) -> NameRule:
        """The event name's rule: ``event_name_from``, else the constant ``event_name``."""
        return self.event_name_rule or NameRule(const=self.event_name)

    @property
    def source_rule(self) -> NameRule:
        """The action source's rule: ``action_source_from``, else ``action_source``."""
        return self.action_source_rule or NameRule(const=self.action_source)

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
            *self.info.items(),
        ):
            for key, src in sources.items():
                name = f"{prefix}.{key}" if group == "extra" else f"{prefix}.{group}.{key}"
                out.append((name, src))
        if self.contents:
            out.append((f"{prefix}.contents.from", self.contents.array))
        if self.skip_when is not None:
            out += [(f"{prefix}.skip_when", src) for src in self.skip_when.sources()]
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


def _expand_item(path: str, item_arrays: Sequence[str]) -> list[str]:
    if path == ITEM or path.startswith(ITEM + "."):
        rest = path[len(ITEM) :]
        return [f"{array}.[]{rest}" for array in item_arrays] or [path]
    return [path]
