"""The resources one run shares between its sinks: sender, dead letters, summary, state."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from target_pinterest_conversions.client import DryRunSender, PinterestClient, Sender
from target_pinterest_conversions.deadletter import DeadLetterWriter
from target_pinterest_conversions.delivery import Deliveries
from target_pinterest_conversions.errors import TooManyRejectedError
from target_pinterest_conversions.settings import Settings
from target_pinterest_conversions.state import StateGate
from target_pinterest_conversions.summary import RunSummary

logger = logging.getLogger("target-pinterest-conversions")


def make_sender(settings: Settings, user_agent: str) -> Sender:
    """Return the dry-run writer or the HTTP client the settings ask for."""
    if settings.dry_run:
        return DryRunSender(settings.dry_run_path)
    return PinterestClient(
        ad_account_id=settings.ad_account_id,
        access_token=settings.access_token or "",
        api_url=settings.api_url,
        test_mode=settings.test_mode,
        max_tries=settings.max_tries,
        timeout=settings.request_timeout,
        user_agent=user_agent,
    )


class Run:
    """Everything one run shares; every method is safe to call from sink threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        user_agent: str = "target-pinterest-conversions",
        state_out: IO[str] | None = None,
    ) -> None:
        self.settings = settings
        self.summary = RunSummary()
        self.dead_letters = DeadLetterWriter(settings.dead_letter_path)
        self.gate = StateGate(out=state_out, before_emit=self.dead_letters.sync)
        self.deliveries = Deliveries(
            sender=lambda: self.sender,
            gate=self.gate,
            dead_letters=self.dead_letters,
            summary=self.summary,
            request_size=settings.batch_size,
            parallel=settings.max_parallel_requests,
            after_batch=self.log_progress,
        )
        self._sender: Sender | None = None
        self._user_agent = user_agent
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call
        self._warned_streams: set[str] = set()
        self._started = time.monotonic()
        self._delivered = 0

    @property
    def sender(self) -> Sender:
        """The sender, created on first use so that a run with no events opens nothing."""
        with self._lock:
            if self._sender is None:
                self._sender = make_sender(self.settings, self._user_agent)
            return self._sender

    def reject(
        self,
        stream: str,
        key: dict[str, Any],
        reasons: Sequence[str],
        event: dict[str, Any] | None,
    ) -> None:
        """Dead-letter a record that cannot become a valid event, before it is sent."""
        reason = "; ".join(reasons)
        for one in reasons:
            self.summary.count(stream, "reasons", one)
        self.summary.update(stream, dead_lettered_locally=1)
        self.dead_letters.write(stream=stream, key=key, reason=reason, stage="target", event=event)

    def skip(self, stream: str, reasons: Sequence[str]) -> None:
        """Count a record left out on purpose (``skip`` fallback); it is not dead-lettered."""
        for one in reasons:
            self.summary.count(stream, "skips", one)
        self.summary.update(stream, skipped=1)

    def warn_ignored(self, stream: str) -> None:
        """Warn once that a stream has no mapping and its records are ignored."""
        with self._lock:
            if stream in self._warned_streams:
                return
            self._warned_streams.add(stream)
        logger.warning(
            "Stream '%s' is not listed in the `streams` setting; its records are ignored",
            stream,
        )

    def log_progress(self, stream: str, events: int, seconds: float) -> None:
        """Log one line per delivered batch with running totals and throughput."""
        with self._lock:
            self._delivered += events
            total = self._delivered
            rate = total / max(time.monotonic() - self._started, 1e-9)
        logger.info(
            "Delivered a batch of %d events for stream '%s' in %.2fs; "
            "%d events so far (%.0f events/s)",
            events,
            stream,
            seconds,
            total,
            rate,
        )

    def check_rejections(self, stream: str | None = None, *, sample: int = 1) -> None:
        """Stop the run when a stream's share of rejected records passes the limit.

        Rejected means dead-lettered here or failed at Pinterest. During the run a
        stream is checked once it has ``sample`` records, so that one early bad record
        cannot stop it; at the end every stream is checked.

        Raises:
            TooManyRejectedError: the share is above ``max_rejected_ratio``.

        """
        limit = self.settings.max_rejected_ratio
        data = self.summary.as_dict()["streams"]
        for name, stats in data.items():
            if stream is not None and name != stream:
                continue
            read = stats["records_read"]
            rejected = stats["dead_lettered_locally"] + stats["failed_at_pinterest"]
            if read >= sample and rejected / read > limit:
                top = ", ".join(list(stats["reasons"])[:3])
                raise TooManyRejectedError(
                    f"stream '{name}': {rejected} of {read} records were rejected, more than "
                    f"max_rejected_ratio {limit:g} allows; check the mapping (top reasons: "
                    f"{top}); rejected records are in {self.settings.dead_letter_path}",
                )

    def write_summary(self, exit_code: int, message: str = "") -> None:
        """Write the run summary as JSON to ``summary_path``, when that is set."""
        path = self.settings.summary_path
        if not path:
            return
        summary = {
            "exit_code": exit_code,
            "status": "succeeded" if exit_code == 0 else "failed",
            "message": message,
            "dry_run": self.settings.dry_run,
            "test_mode": self.settings.test_mode,
            "dead_letter_path": self.settings.dead_letter_path,
            "dead_lettered": self.dead_letters.count,
            "states_emitted": self.gate.emitted,
            **self.summary.as_dict(),
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")

    def close(self) -> None:
        """Finish the deliveries in flight, then close the sender and the dead-letter file."""
        self.deliveries.close()
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()
        self.dead_letters.close()
