"""The part of a record a stream's plan reads, as a type a JSON decoder can build. Pure.

A tap's record holds far more than a mapping reads, and building the rest (dicts,
``Decimal`` numbers) costs more than converting what is read. :func:`partial_record_type`
describes the read part as nested ``TypedDict`` classes: a decoder given it
(``msgspec``) keeps only those keys and skips the rest of the line unbuilt.

The type only prunes and checks; it never changes a value. An object on the way to a
path's last value (its leaf) is a ``TypedDict`` of the keys read below it; an array read
item by item (``contents.from``, ``event_per_item``) is a list of such objects; a leaf is
``Any`` (decoded exactly as in a whole record), or, given the stream schema's types, the
type that admits just those (:class:`JsonNumber` for ``number``). A node read whole as
well as below, or by list index, is ``Any``: pruning it would change what is read.

Where a record does not fit (a string where an object is read through), the decoder
refuses the line and the record is decoded whole: the type is never looser than the
record route. When it admits no value the schema's types refuse (``checked``), a record
it decodes needs no type check along its paths: the plan runs unguarded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Optional, TypedDict, Union, cast

from target_pinterest_conversions.conversion._codegen.typecheck import node_classes
from target_pinterest_conversions.conversion.schema import schema_at
from target_pinterest_conversions.mapping.spec import StreamMapping

_ELEMENTS = "[]"
"""A path segment standing for every element of an array (see ``record_paths``)."""

_NONE = type(None)
_TYPED_DICT: Any = TypedDict  # called with fields known only at run time


class PartialType(NamedTuple):
    """The decoder's type for a record, and the paths where it checks the schema's types.

    ``checked`` holds a path (``[]`` for array elements) when the decoder admits there
    only classes the stream schema admits, and does so at every step before it.
    """

    record: type[dict[str, Any]]
    checked: frozenset[tuple[str, ...]]


class _Node:
    """One key of the record tree: how it is read, and the keys read below it."""

    __slots__ = ("children", "read_as_array", "read_whole")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.read_whole = False
        self.read_as_array = False


def partial_record_type(
    mapping: StreamMapping,
    key_properties: Sequence[str],
    types: Mapping[str, Any] | None = None,
) -> PartialType:
    """The ``TypedDict`` of every path ``mapping`` reads, with the key properties.

    ``types``: the stream schema along the mapped paths, of types only; its types are
    then checked by the decoder where it can check exactly those.
    """
    root = _Node()
    array_settings = {f"streams.{mapping.stream}.{k}" for k in ("contents.from", "event_per_item")}
    for setting, dotted in mapping.record_paths():
        node = _insert(root, dotted.split("."))
        if setting in array_settings:
            node.read_as_array = True
        else:
            node.read_whole = True
    if mapping.ad_account_id is not None:
        for path in mapping.ad_account_id.paths:
            _insert(root, path).read_whole = True
    for name in key_properties:
        _insert(root, [name]).read_whole = True  # a top-level name, dots and all
    builder = _Builder(types)
    # A record without a key property is decoded whole: the SDK's error lists its keys.
    record = builder.typed_dict(root, (), held=True, required=frozenset(key_properties))
    return PartialType(record, frozenset(builder.checked))


def _insert(root: _Node, segments: Iterable[str]) -> _Node:
    node = root
    for segment in segments:
        node = node.children.setdefault(segment, _Node())
    return node


class _Builder:
    """Builds the nested types, and notes each path where the decoder checks types."""

    def __init__(self, types: Mapping[str, Any] | None) -> None:
        self.types = types
        self.checked: set[tuple[str, ...]] = set()

    def classes(self, path: tuple[str, ...]) -> tuple[type, ...] | None:
        return None if self.types is None else node_classes(schema_at(self.types, path))

    def typed_dict(
        self,
        node: _Node,
        path: tuple[str, ...],
        held: bool,
        required: frozenset[str] = frozenset(),
    ) -> type[dict[str, Any]]:
        fields = {
            key: self.value(child, (*path, key), held) for key, child in node.children.items()
        }
        kind = _TYPED_DICT("PartialRecord", fields, total=False)
        if required:
            # What typing.Required (3.11+) records, and what msgspec reads.
            kind.__required_keys__ = frozenset(required)
            kind.__optional_keys__ = frozenset(fields) - required
        return cast("type[dict[str, Any]]", kind)

    def value(self, node: _Node, path: tuple[str, ...], held: bool) -> Any:
        keys = node.children.keys()
        if (
            node.read_whole
            or not keys
            or any(key.isdigit() for key in keys)
            or (_ELEMENTS in keys and len(keys) > 1)
            or (node.read_as_array and _ELEMENTS not in keys)
        ):
            return self.leaf(path, held)
        if _ELEMENTS in keys:
            held = self.holds(path, list, held)
            element = self.element(node.children[_ELEMENTS], (*path, _ELEMENTS), held)
            return self.nullable(list[element], path)  # type: ignore[valid-type]
        held = self.holds(path, dict, held)
        return self.nullable(self.typed_dict(node, path, held), path)

    def element(self, node: _Node, path: tuple[str, ...], held: bool) -> Any:
        keys = node.children.keys()
        if node.read_whole or node.read_as_array or not keys:
            return self.leaf(path, held)
        if any(key.isdigit() or key == _ELEMENTS for key in keys):
            return self.leaf(path, held)
        held = self.holds(path, dict, held)
        return self.nullable(self.typed_dict(node, path, held), path)

    def holds(self, path: tuple[str, ...], cls: type, held: bool) -> bool:
        """Note ``path`` as checked when an object or array there is all the schema admits."""
        classes = self.classes(path)
        held = held and (classes is None or cls in classes)
        if held:
            self.checked.add(path)
        return held

    def nullable(self, kind: Any, path: tuple[str, ...]) -> Any:
        """``kind``, or null too where the schema admits null (or sets no type)."""
        classes = self.classes(path)
        return kind if classes is not None and _NONE not in classes else Optional[kind]  # noqa: UP045

    def leaf(self, path: tuple[str, ...], held: bool) -> Any:
        """A value read whole: the schema's types where the decoder has just those."""
        classes = self.classes(path)
        if classes is None:
            if held:
                self.checked.add(path)
            return Any
        kinds = set(classes) - {_NONE}
        # Numbers stay Any (checked in the plan): msgspec's Decimal takes strings too.
        if not kinds or not kinds <= {str, bool, int, dict, list}:
            return Any
        if held:
            self.checked.add(path)
        kind: Any = Union[tuple(kinds)]  # noqa: UP007
        return Optional[kind] if _NONE in classes else kind  # noqa: UP045
