"""Events waiting to be sent, by ad account, and their split into requests of at most 1000.

A batch holds, for each ad account its records go to, that account's events in the order
they came (:class:`PendingEvents`): a request goes to exactly one account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, overload

from target_pinterest_conversions.delivery.client import MAX_EVENTS_PER_REQUEST


@dataclass(slots=True)
class PendingEvent:
    """One valid event and what is needed to report on it: the record's key."""

    event: dict[str, Any]
    key: dict[str, Any]


class PendingEvents(Sequence[PendingEvent]):
    """One ad account's events of a batch, in order, beside their records' keys.

    Two lists rather than a :class:`PendingEvent` per event: appending to them is the
    only per-event work of queueing (an object per event costs more than both appends),
    and a request's body takes :attr:`events` (or a slice of it) as it is. Items are
    built only when read one by one (a failed event, a refused account).
    """

    __slots__ = ("events", "keys")

    def __init__(
        self, events: list[dict[str, Any]] | None = None, keys: list[dict[str, Any]] | None = None
    ) -> None:
        self.events: list[dict[str, Any]] = [] if events is None else events
        self.keys: list[dict[str, Any]] = [] if keys is None else keys

    def __len__(self) -> int:
        return len(self.events)

    @overload
    def __getitem__(self, index: int) -> PendingEvent: ...

    @overload
    def __getitem__(self, index: slice) -> PendingEvents: ...

    def __getitem__(self, index: int | slice) -> PendingEvent | PendingEvents:
        if isinstance(index, slice):
            return PendingEvents(self.events[index], self.keys[index])
        return PendingEvent(self.events[index], self.keys[index])

    def __iter__(self) -> Iterator[PendingEvent]:
        return map(PendingEvent, self.events, self.keys)


AccountBatches: TypeAlias = Mapping[str, Sequence[PendingEvent]]
"""A batch's events by the ad account they go to."""


def events_of(items: Sequence[PendingEvent]) -> list[dict[str, Any]]:
    """The events of ``items``, in order: :class:`PendingEvents` holds them as a list."""
    if isinstance(items, PendingEvents):
        return items.events
    return [item.event for item in items]


def chunks(
    items: Sequence[PendingEvent],
    size: int = MAX_EVENTS_PER_REQUEST,
) -> Iterator[Sequence[PendingEvent]]:
    """Split ``items`` into consecutive requests of at most ``size`` events."""
    if not 0 < size <= MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"request size must be 1 to {MAX_EVENTS_PER_REQUEST}")
    for start in range(0, len(items), size):
        yield items[start : start + size]
