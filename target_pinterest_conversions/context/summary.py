"""Per-stream and per-ad-account counters for the run summary; safe between threads.

Messages are counted by kind, not one by one: Pinterest's per-event messages embed ids,
times and values (``Given event_timestamp: 1678203524``), so :func:`message_template`
reduces them to a template before they are counted, each counter holds at most
:data:`MAX_DISTINCT` distinct messages (the rest are counted under :data:`OTHER`), and
the log shows the :data:`LOGGED` most frequent of each with a count of the rest. The
dead-letter file keeps every event's exact reason.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_DISTINCT = 100
"""Distinct messages a counter of one stream holds: memory and the summary stay bounded."""
OTHER = "(other messages)"
"""The key under which messages beyond :data:`MAX_DISTINCT` distinct ones are counted."""
LOGGED = 10
"""Distinct messages of one counter of one stream shown in the log; the rest are summed."""
ACCOUNTS_SHOWN = 20
"""Ad accounts the summary and its log show one by one, those with the most events; the
others (records may name any number) are summed in one entry."""
_UNCAPPED = frozenset({"warnings"})
"""Counters whose every distinct key is kept: the sinks log each of this target's own
warnings on its first occurrence, and bounding those lines is theirs to decide."""

_QUOTED = re.compile(r"'[^'\n]{0,300}'|\"[^\"\n]{0,300}\"")
_FIELD_NAME = re.compile(r"[a-z_]{1,40}(?:\.[a-z_]{1,40}){0,3}")
_LONG_ID = re.compile(r"(?<![\w-])(?=[\w-]*\d)[0-9A-Fa-f]{8,}(?:-[0-9A-Fa-f]{4,})*(?![\w-])")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?![\w])")


def _quoted(match: re.Match[str]) -> str:
    text = match.group()
    # A quoted field name (``'category_name'``) says what is wrong and has few values;
    # any other quoted text is a value, which makes every event's message distinct.
    if _FIELD_NAME.fullmatch(text[1:-1]):
        return text
    return f"{text[0]}<value>{text[-1]}"


def message_template(message: str) -> str:
    """Reduce a message to its kind: quoted values, ids and numbers become placeholders.

    ``Given event_timestamp: 1678203524`` gives ``Given event_timestamp: <n>``;
    quoted field names are kept.
    """
    text = _QUOTED.sub(_quoted, message)
    text = _NUMBER.sub("<n>", text)
    return _LONG_ID.sub("<id>", text)


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
    pinterest_statuses: Counter[str] = field(default_factory=Counter)
    """Events Pinterest gave a status other than ``processed`` or ``failed``, by status."""
    routes: Counter[str] = field(default_factory=Counter)
    """With ``output: api+csv``: the valid events handed to each route (``api``, ``csv``)."""
    signals: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per event name, the sent (or written) events by the mask of their signals: bit
    ``i`` stands for the summary's ``signal_names[i]``."""

    def count_signals(self, event_name: str, mask: int) -> None:
        """Count one event sent (or written) with the signals of ``mask``.

        Called by the reading thread alone, without the lock, as for ``records_read``:
        readers copy the counts first (:meth:`signal_quality`). The caller bounds
        ``event_name`` to names that are not data (Pinterest's own).
        """
        masks = self.signals.get(event_name)
        if masks is None:
            masks = self.signals[event_name] = {}
        # A plain dict: a Counter's ``+=`` costs twice as much, and it runs per event.
        masks[mask] = masks.get(mask, 0) + 1

    def signal_quality(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per event name: the events counted, and each signal's share of them (0 to 1)."""
        quality = {}
        # list() copies a dict in one step the reading thread cannot interleave with.
        for event_name, counted in sorted(list(self.signals.items())):
            masks = list(counted.items())
            total = sum(n for _, n in masks)
            shares = {
                name: round(sum(n for mask, n in masks if mask >> bit & 1) / total, 4)
                for bit, name in enumerate(names)
            }
            quality[event_name] = {"events": total, **shares}
        return quality

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
            "pinterest_statuses": dict(self.pinterest_statuses.most_common()),
            **({"routes": dict(sorted(self.routes.items()))} if self.routes else {}),
        }


@dataclass
class AccountStats:
    """What happened to the events of one ad account, whatever their streams."""

    events_sent: int = 0
    processed: int = 0
    failed_at_pinterest: int = 0
    events_written: int = 0
    dead_lettered_locally: int = 0
    """Records bound for this account that were dead-lettered before sending."""

    def counts(self) -> dict[str, int]:
        """Return the counters."""
        return {
            "events_sent": self.events_sent,
            "processed": self.processed,
            "failed_at_pinterest": self.failed_at_pinterest,
            "events_written": self.events_written,
            "dead_lettered_locally": self.dead_lettered_locally,
        }


def _events(counts: dict[str, int]) -> int:
    """An account's events: sent, written instead, or dead-lettered before sending."""
    return counts["events_sent"] + counts["events_written"] + counts["dead_lettered_locally"]


class RunSummary:
    """All streams' and ad accounts' counters.

    ``signal_names`` names the bits of the signal masks counted by :meth:`count_signals`
    (the run gives Pinterest's: ``pinterest.signals``, which this layer does not import).
    """

    def __init__(self, signal_names: Sequence[str] = ()) -> None:
        self.signal_names = tuple(signal_names)
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call
        self.streams: dict[str, StreamStats] = {}
        self.accounts: dict[str, AccountStats] = {}
        self.refused: dict[str, dict[str, Any]] = {}
        """Ad accounts Pinterest refused in this run: ``status``, ``reason`` and ``events``
        (of the account's events, those dead-lettered because of it)."""
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

    def update_account(self, account: str, **increments: int) -> None:
        """Add to the counters of ad account ``account`` under the lock."""
        with self._lock:
            stats = self.accounts.get(account)
            if stats is None:
                stats = self.accounts[account] = AccountStats()
            for name, amount in increments.items():
                setattr(stats, name, getattr(stats, name) + amount)

    def refuse_account(self, account: str, status: int, reason: str) -> None:
        """Record that Pinterest refused ``account`` (403, 404), with the reason given."""
        with self._lock:
            self.refused.setdefault(account, {"status": status, "reason": reason, "events": 0})

    def count_refused(self, account: str, amount: int) -> None:
        """Count events of a refused account dead-lettered because it was refused."""
        with self._lock:
            self.refused[account]["events"] += amount

    def count(self, stream: str, counter: str, key: str, amount: int = 1) -> bool:
        """Count ``key`` in a counter of ``stream``; tell whether it is the first time.

        Beyond :data:`MAX_DISTINCT` distinct keys, new ones are counted under
        :data:`OTHER` and are never a first time (except in this target's ``warnings``).
        """
        with self._lock:
            stats = self.stats(stream)
            bucket: Counter[str] = getattr(stats, counter)
            if key in bucket:
                bucket[key] += amount
                return False
            if len(bucket) >= MAX_DISTINCT and counter not in _UNCAPPED:
                bucket[OTHER] += amount
                return False
            bucket[key] = amount
            return True

    def distinct(self, stream: str, counter: str) -> int:
        """How many distinct keys a counter of ``stream`` holds."""
        with self._lock:
            return len(getattr(self.stats(stream), counter))

    def as_dict(self) -> dict[str, Any]:
        """Return every stream's counters and every ad account's (``by_ad_account``)."""
        with self._lock:
            return {
                "streams": {
                    name: {**s.as_dict(), "signal_quality": s.signal_quality(self.signal_names)}
                    for name, s in sorted(self.streams.items())
                },
                **self._accounts_shown(),
                **self._refused_shown(),
                "ignored_streams": dict(self.ignored_streams),
            }

    def _accounts_shown(self) -> dict[str, Any]:
        """The ad accounts shown: the summary's ``by_ad_account`` and ``other_ad_accounts``.

        The first holds the :data:`ACCOUNTS_SHOWN` accounts with the most events, by id;
        the second, only if there are more, how many others and their counts summed.
        """
        with self._lock:
            accounts = [(a, s.counts()) for a, s in self.accounts.items()]
        accounts.sort(key=lambda item: (-_events(item[1]), item[0]))
        shown: dict[str, Any] = {"by_ad_account": dict(sorted(accounts[:ACCOUNTS_SHOWN]))}
        rest = accounts[ACCOUNTS_SHOWN:]
        if rest:
            total: Counter[str] = Counter()
            for _, counts in rest:
                total.update(counts)
            shown["other_ad_accounts"] = {
                "ad_accounts": len(rest),
                **{name: total[name] for name in AccountStats().counts()},
            }
        return shown

    def _refused_shown(self) -> dict[str, Any]:
        """The refused ad accounts shown: ``refused_ad_accounts`` and its overflow.

        The :data:`ACCOUNTS_SHOWN` with the most events, by id; then, only if there are
        more, ``other_refused_ad_accounts``: how many others, and their events.
        """
        with self._lock:
            refused = [(a, dict(r)) for a, r in self.refused.items()]
        refused.sort(key=lambda item: (-item[1]["events"], item[0]))
        shown: dict[str, Any] = {"refused_ad_accounts": dict(sorted(refused[:ACCOUNTS_SHOWN]))}
        rest = refused[ACCOUNTS_SHOWN:]
        if rest:
            shown["other_refused_ad_accounts"] = {
                "ad_accounts": len(rest),
                "events": sum(entry["events"] for _, entry in rest),
            }
        return shown

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

    def log(self, logger: logging.Logger, written_to: str = "the dry-run file") -> None:
        """Log one summary line per stream, then its reasons, dropped values and warnings.

        Each stream's line carries its counters as structured fields (``extra``);
        ``written_to`` names where events that were written, not sent, went.
        """
        with self._lock:
            ignored = dict(self.ignored_streams)
        for name, stats in self.items():
            counts = stats.counts()
            delivery = _delivery(counts, written_to)
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
            if stats.routes:
                logger.info(
                    "  stream '%s' routed %d events to the API (up to 7 days old), %d to the "
                    "CSV files (older)",
                    name,
                    stats.routes["api"],
                    stats.routes["csv"],
                )
            for counter, line in _LINES:
                _log_counter(logger, name, getattr(stats, counter), line)
        for name, stats in self.items():
            _log_signal_quality(logger, name, stats.signal_quality(self.signal_names))
        shown = self._accounts_shown()
        accounts: list[tuple[str | None, dict[str, int]]] = [*shown["by_ad_account"].items()]
        if "other_ad_accounts" in shown:
            accounts.append((None, shown["other_ad_accounts"]))
        for account, counts in accounts:
            delivery = _delivery(counts, written_to)
            if account is None:
                logger.info(
                    "Summary for %d other ad accounts: %s, %d dead-lettered locally",
                    counts["ad_accounts"],
                    delivery,
                    counts["dead_lettered_locally"],
                    extra={"counts": counts},
                )
                continue
            logger.info(
                "Summary for ad account %s: %s, %d dead-lettered locally",
                account,
                delivery,
                counts["dead_lettered_locally"],
                extra={"ad_account_id": account, "counts": counts},
            )
        refused = self._refused_shown()
        for account, entry in refused["refused_ad_accounts"].items():
            logger.warning(
                "Ad account %s was refused (HTTP %d): %d events dead-lettered. %s",
                account,
                entry["status"],
                entry["events"],
                entry["reason"],
                extra={"ad_account_id": account},
            )
        if "other_refused_ad_accounts" in refused:
            others = refused["other_refused_ad_accounts"]
            logger.warning(
                "%d other ad accounts were refused: %d events dead-lettered",
                others["ad_accounts"],
                others["events"],
            )
        for name, n in ignored.items():
            logger.info("Stream '%s' is not in `streams`: %d records ignored", name, n)


def _delivery(counts: dict[str, int], written_to: str) -> str:
    """What became of the events: sent and Pinterest's verdicts, written, or both."""
    sent = (
        f"{counts['events_sent']} events sent, {counts['processed']} processed, "
        f"{counts['failed_at_pinterest']} failed at Pinterest"
    )
    written = f"{counts['events_written']} events written to {written_to} (not sent)"
    if not counts["events_written"]:
        return sent
    return f"{sent}, {written}" if counts["events_sent"] else written


_LINES = (
    ("reasons", "  stream '%s' rejected %d x: %s"),
    ("skips", "  stream '%s' skipped %d x: %s"),
    ("dropped_values", "  stream '%s' left out %d value(s): %s"),
    ("warnings", "  stream '%s' target warning %d x: %s"),
    ("pinterest_warnings", "  stream '%s' Pinterest warning %d x: %s"),
    ("pinterest_statuses", "  stream '%s' Pinterest status %d x: %s"),
)


def _log_counter(logger: logging.Logger, stream: str, bucket: Counter[str], line: str) -> None:
    """Log the :data:`LOGGED` most frequent messages, then one line for all the others."""
    entries = [(key, n) for key, n in bucket.most_common() if key != OTHER]
    for key, n in entries[:LOGGED]:
        logger.info(line, stream, n, key)
    rest = entries[LOGGED:]
    beyond = bucket.get(OTHER, 0)
    if rest or beyond:
        what = f"{len(rest)} more kinds of message, listed in the summary"
        if beyond:
            what += f", and kinds beyond the {MAX_DISTINCT} it keeps"
        logger.info(line, stream, sum(n for _, n in rest) + beyond, what)


def _log_signal_quality(
    logger: logging.Logger, stream: str, quality: dict[str, dict[str, Any]]
) -> None:
    """Log a stream's signal quality as a small table: a row per signal, a column per event."""
    if not quality:
        return
    names = list(quality)
    heads = [f"{name} ({quality[name]['events']})" for name in names]
    widths = [max(len(head), 4) for head in heads]
    signals = [key for key in quality[names[0]] if key != "events"]
    if not signals:
        return
    label = max(len(signal) for signal in signals)
    logger.info(
        "Signal quality of stream '%s', the share of sent events carrying each match signal:",
        stream,
        extra={"stream_name": stream, "signal_quality": quality},
    )
    logger.info(
        "  %s  %s",
        "signal".ljust(label),
        "  ".join(head.rjust(width) for head, width in zip(heads, widths, strict=True)),
    )
    for signal in signals:
        cells = [
            f"{quality[name][signal]:.2f}".rjust(w) for name, w in zip(names, widths, strict=True)
        ]
        logger.info("  %s  %s", signal.ljust(label), "  ".join(cells))
