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
    """Events sent to Pinterest; ``processed`` and ``failed_at_pinterest`` are its verdicts."""
    processed: int = 0
    failed_at_pinterest: int = 0
    events_written: int = 0
    """Events written to the dry-run file instead: nothing is attributed to Pinterest."""
    dead_lettered_locally: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skips: Counter[str] = field(default_factory=Counter)
    dropped_values: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    """This target's own warnings about the records (e.g. a non-standard event name)."""
    pinterest_warnings: Counter[str] = field(default_factory=Counter)
    """Warnings Pinterest returned for events it processed."""

    @property
    def delivered(self) -> int:
        """Events that reached their destination: processed by Pinterest or written."""
        return self.processed + self.events_written

    def counts(self) -> dict[str, int]:
        """Return the numeric counters only."""
        return {
            "records_read": self.records_read,
            "events_sent": self.events_sent,
            "processed": self.processed,
            "failed_at_pinterest": self.failed_at_pinterest,
            "events_written": self.events_written,
            "dead_lettered_locally": self.dead_lettered_locally,
            "skipped": self.skipped,
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as plain JSON-ready values."""
        return {
            **self.counts(),
            "reasons": dict(self.reasons.most_common()),
            "skips": dict(self.skips.most_common()),
            "dropped_values": dict(self.dropped_values.most_common()),
            "warnings": dict(self.warnings.most_common()),
            "pinterest_warnings": dict(self.pinterest_warnings.most_common()),
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

    def items(self) -> list[tuple[str, StreamStats]]:
        """Return ``(stream, counters)`` pairs sorted by stream name."""
        with self._lock:
            return sorted(self.streams.items())

    def totals(self) -> dict[str, int]:
        """Return the numeric counters summed over every stream."""
        with self._lock:
            total: Counter[str] = Counter()
            for stats in self.streams.values():
                total.update(stats.counts())
            return {name: total[name] for name in StreamStats().counts()}

    def log(self, logger: logging.Logger) -> None:
        """Log one summary line per stream, then its reasons, dropped values and warnings.

        Each stream's line carries its counters as structured fields (``extra``).
        """
        with self._lock:
            ignored = dict(self.ignored_streams)
        for name, stats in self.items():
            counts = stats.counts()
            if stats.events_written:
                delivery = f"{stats.events_written} events written to the dry-run file (not sent)"
            else:
                delivery = (
                    f"{stats.events_sent} events sent, {stats.processed} processed, "
                    f"{stats.failed_at_pinterest} failed at Pinterest"
                )
            logger.info(
                "Summary for stream '%s': %d records read, %s, %d dead-lettered locally, "
                "%d skipped",
                name,
                stats.records_read,
                delivery,
                stats.dead_lettered_locally,
                stats.skipped,
                extra={"stream_name": name, "counts": counts},
            )
            for reason, n in stats.reasons.most_common():
                logger.info("  stream '%s' rejected %d x: %s", name, n, reason)
            for reason, n in stats.skips.most_common():
                logger.info("  stream '%s' skipped %d x: %s", name, n, reason)
            for what, n in stats.dropped_values.most_common():
                logger.info("  stream '%s' left out %d value(s): %s", name, n, what)
            for message, n in stats.warnings.most_common():
                logger.info("  stream '%s' target warning %d x: %s", name, n, message)
            for message, n in stats.pinterest_warnings.most_common():
                logger.info("  stream '%s' Pinterest warning %d x: %s", name, n, message)
        for name, n in ignored.items():
            logger.info("Stream '%s' is not in `streams`: %d records ignored", name, n)
