"""The parsed model of one stream's mapping: sources, name rules, the raw event. Pure.

A :class:`StreamMapping` is what :func:`~.parse.parse_stream_mapping` makes of the
``streams.<name>`` setting; :meth:`StreamMapping.extract_all` then reads one record into
one :class:`RawEvent` (or one per item with ``event_per_item``) without converting or
hashing anything. The reading code is generated once per mapping by :mod:`..codegen`.

A *value source* is one of:

- a dotted path into the record, e.g. ``"billingAddress.zip"`` (a numeric segment
  indexes a list: ``"lineItems.0.sku"``; with ``event_per_item``, ``"$item.sku"`` reads
  the current item);
- a list of paths, the first one giving a non-empty value wins;
- a constant, written ``{"const": <value>}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from target_pinterest_conversions.errors import ConfigError
from target_pinterest_conversions.mapping.keys import ITEM
from target_pinterest_conversions.pinterest.limits import InvalidText, ad_account_id
from target_pinterest_conversions.pinterest.vocabulary import ACTION_SOURCES, name_key

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
    schema lacks are dropped rather than reported.
    """

    paths: tuple[tuple[str, ...], ...] = ()
    const: Any = _MISSING
    from_preset: bool = False
    url_params: tuple[str | None, ...] = ()

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

    def url_param(self, index: int) -> str | None:
        """Return the query parameter read from the URL at ``paths[index]``, if any."""
        return self.url_params[index] if index < len(self.url_params) else None


def _compile_getter(src: Source) -> Callable[[Any], Any]:
    # Imported here: the code generator reads this module's classes (a cycle at load).
    from target_pinterest_conversions.codegen.emit import compile_getter

    return compile_getter(src)


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
        object.__setattr__(self, "_item", _compile_group(self.items))


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
    """The parsed mapping of one stream; its reading code is generated on creation.

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
        if self.skip_when is not None and (reason := self.skip_when.reason(record)):
            return [RawEvent(None, None, None, None, {}, {}, reason=reason, skipped=True)]
        if self.event_per_item is None:
            return [self._extract(record, None)]  # type: ignore[attr-defined]
        items = self.event_per_item.get(record)
        if not isinstance(items, list) or not items:
            return [self._extract(record, None)]  # type: ignore[attr-defined]
        extract = self._extract  # type: ignore[attr-defined]
        return [extract({**record, ITEM: item}, index) for index, item in enumerate(items)]

    def ad_account(self, record: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """Return ``(account, None)`` for the record's ad account, or ``(None, reason)``.

        Only for a mapping whose ``ad_account_id`` reads the record. The reason names the
        setting, never the value: a wrongly mapped field may hold personal data.
        """
        source = self.ad_account_id
        if source is None:
            raise ValueError(f"streams.{self.stream} has no ad_account_id of its own")
        value = source.get(record)
        account = ad_account_id(value)
        if account is not None:
            return account, None
        setting = f"streams.{self.stream}.ad_account_id"
        if value is None or (isinstance(value, str) and not value.strip()):
            return None, f"ad_account_id is missing: the record has no value for {setting}"
        return None, f"ad_account_id is not 1 to 18 digits ({setting})"

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


def _compile_group(sources: Mapping[str, Source]) -> Callable[[Any], dict[str, Any]]:
    from target_pinterest_conversions.codegen.emit import compile_group

    return compile_group(sources)


def _compile_extractor(mapping: StreamMapping) -> Callable[[Any, int | None], RawEvent]:
    from target_pinterest_conversions.codegen.extractor import compile_extractor

    return compile_extractor(mapping)


def _expand_item(path: str, item_arrays: Sequence[str]) -> list[str]:
    if path == ITEM or path.startswith(ITEM + "."):
        rest = path[len(ITEM) :]
        return [f"{array}.[]{rest}" for array in item_arrays] or [path]
    return [path]
