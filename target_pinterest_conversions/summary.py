"""Per-stream counters for the run summary; safe to update from several threads."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StreamStats:
    """What happened to one stream's records."""

    records_read: int = 0
    """Counted by the reading thread alone, without the lock (it runs for every record)."""
    events_sent: int = 0
    processed: int = 0
    failed_at_pinterest: int = 0
    dead_lettered_locally: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skips: Counter[str] = field(default_factory=Counter)
    dropped_values: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as plain JSON-ready values."""
        return {
            "records_read": self.records_read,
            "events_sent": self.events_sent,
            "processed": self.processed,
            "failed_at_pinterest": self.failed_at_pinterest,
            "dead_lettered_locally": self.dead_lettered_locally,
            "skipped": self.skipped,
            "reasons": dict(self.reasons.most_common()),
            "skips": dict(self.skips.most_common()),
            "dropped_values": dict(self.dropped_values.most_common()),
            "warnings": dict(self.warnings.most_common()),
        }


class RunSummary:
    """All streams' counters, plus the set of warnings already logged."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call
        self.streams: dict[str, StreamStats] = {}
        self.ignored_streams: Counter[str] = Counter()

    def stats(self, stream: str) -> StreamStats:
        """Return (creating it if needed) the counters of ``stream``."""
        with self._lock:
            stats = self.streams.get(stream)
            if stats is None:
                stats = self.streams[stream] = StreamStats()
            return stats

    def update(self, stream: str, **increments: int) -> None:
        """Add to counters of ``stream`` under the lock."""
        with self._lock:
            stats = self.stats(stream)
            for name, amount in increments.items():
                setattr(stats, name, getattr(stats, name) + amount)

    def count(self, stream: str, counter: str, key: str, amount: int = 1) -> bool:
        """Count ``key`` in a counter of ``stream``; tell whether it is the first time."""
        with self._lock:
            stats = self.stats(stream)
            bucket: Counter[str] = getattr(stats, counter)
            first = key not in bucket
            bucket[key] += amount
            return first

    def as_dict(self) -> dict[str, Any]:
        """Return every stream's counters."""
        with self._lock:
            return {
                "streams": {name: s.as_dict() for name, s in sorted(self.streams.items())},
                "ignored_streams": dict(self.ignored_streams),
            }

    def log(self, logger: logging.Logger) -> None:
        """Log one summary line per stream, then its reasons, dropped values and warnings."""
        data = self.as_dict()
        for name, stats in data["streams"].items():
            logger.info(
                "Summary for stream '%s': %d records read, %d events sent, %d processed, "
                "%d failed at Pinterest, %d dead-lettered locally, %d skipped",
                name,
                stats["records_read"],
                stats["events_sent"],
                stats["processed"],
                stats["failed_at_pinterest"],
                stats["dead_lettered_locally"],
                stats["skipped"],
            )
            for reason, n in stats["reasons"].items():
                logger.info("  stream '%s' rejected %d x: %s", name, n, reason)
            for reason, n in stats["skips"].items():
                logger.info("  stream '%s' skipped %d x: %s", name, n, reason)
            for what, n in stats["dropped_values"].items():
                logger.info("  stream '%s' left out %d value(s): %s", name, n, what)
            for message, n in stats["warnings"].items():
                logger.info("  stream '%s' Pinterest warning %d x: %s", name, n, message)
        for name, n in data["ignored_streams"].items():
            logger.info("Stream '%s' is not in `streams`: %d records ignored", name, n)
