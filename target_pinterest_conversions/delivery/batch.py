"""Events waiting to be sent, and their split into requests of at most 1000."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from target_pinterest_conversions.delivery.client import MAX_EVENTS_PER_REQUEST


@dataclass(slots=True)
class PendingEvent:
    """One valid event and what is needed to report on it: the record's key."""

    event: dict[str, Any]
    key: dict[str, Any]


def chunks(
    items: Sequence[PendingEvent],
    size: int = MAX_EVENTS_PER_REQUEST,
) -> Iterator[Sequence[PendingEvent]]:
    """Split ``items`` into consecutive requests of at most ``size`` events."""
    if not 0 < size <= MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"request size must be 1 to {MAX_EVENTS_PER_REQUEST}")
    for start in range(0, len(items), size):
        yield items[start : start + size]
