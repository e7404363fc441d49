"""Events waiting to be sent, by ad account, and their split into requests of at most 1000.

A batch holds, for each ad account its records go to, that account's events in the order
they came: a request goes to exactly one account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from target_pinterest_conversions.delivery.client import MAX_EVENTS_PER_REQUEST


@dataclass(slots=True)
class PendingEvent:
    """One valid event and what is needed to report on it: the record's key."""

    event: dict[str, Any]
    key: dict[str, Any]


AccountBatches: TypeAlias = Mapping[str, Sequence[PendingEvent]]
"""A batch's events by the ad account they go to."""


def chunks(
    items: Sequence[PendingEvent],
    size: int = MAX_EVENTS_PER_REQUEST,
) -> Iterator[Sequence[PendingEvent]]:
    """Split ``items`` into consecutive requests of at most ``size`` events."""
    if not 0 < size <= MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"request size must be 1 to {MAX_EVENTS_PER_REQUEST}")
    for start in range(0, len(items), size):
        yield items[start : start + size]
