"""The resources one run shares between its sinks: output, dead letters, summary, state."""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import orjson
from singer_sdk import metrics

from target_pinterest_conversions.check import token_accepted
from target_pinterest_conversions.context.files import describe
from target_pinterest_conversions.context.interrupt import Interrupt
from target_pinterest_conversions.context.redaction import scrub_data
from target_pinterest_conversions.context.summary import RunSummary
from target_pinterest_conversions.conversion.checks import MAX_EVENT_AGE, TOO_OLD
from target_pinterest_conversions.conversion.pipeline import unlisted_event_name
from target_pinterest_conversions.delivery.client import DeliveryStopped, Sender
from target_pinterest_conversions.delivery.deadletter import DeadLetterWriter
from target_pinterest_conversions.delivery.outputs import (
    Output,
    OutputSettings,
    RunParts,
    make_output,
)
from target_pinterest_conversions.delivery.pool import Deliveries
from target_pinterest_conversions.delivery.state import StateGate
from target_pinterest_conversions.errors import SignalCoverageError, TooManyRejectedError
from target_pinterest_conversions.pinterest.signals import SIGNALS
from target_pinterest_conversions.settings import Settings

logger = logging.getLogger("target-pinterest-conversions")


class OutcomeMetric(str, enum.Enum):
    """Metric names of ours, beside the SDK's :class:`~singer_sdk.metrics.Metric`."""

    OUTCOME_COUNT = "outcome_count"


# The SDK's points take its own enum; ours serializes the same way (``.value``).
OUTCOME_COUNT = cast("metrics.Metric", OutcomeMetric.OUTCOME_COUNT)
"""Records and events by outcome, per stream: not ``record_count``, the SDK's, lest
a record be counted twice."""

STATUSES = {0: "succeeded", 130: "interrupted", 143: "interrupted"}
"""Summary status by exit code; any other code is ``failed``."""


def output_for(settings: Settings) -> Output:
    """The output the settings ask for, given the values it reads (delivery imports no settings)."""
    return make_output(
        OutputSettings(
            output=settings.output,
            dry_run=settings.dry_run,
            dry_run_path=settings.dry_run_path,
            csv_path=settings.csv_path,
            api_url=settings.api_url,
            test_mode=settings.test_mode,
            accounts_label=settings.accounts_label,
            ad_account_id=settings.ad_account_id,
            access_token=settings.access_token,
            max_tries=settings.max_tries,
            request_timeout=settings.request_timeout,
            max_retry_after=settings.max_retry_after,
        )
    )


class Run:
    """Everything one run shares; every method is safe to call from sink threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        user_agent: str = "target-pinterest-conversions",
        interrupt: Interrupt | None = None,
        open_outputs: bool = True,
    ) -> None:
        """``open_outputs=False``: for a summary only, the output's files are not touched."""
        self.settings = settings
        self.output = output_for(settings)
        self.interrupt = interrupt or Interrupt()
        self.stopping = threading.Event()
        """Set when the run stops early: retries end and no new request starts."""
        self.summary = RunSummary(SIGNALS)
        self.announced_warnings = frozenset(
            unlisted_event_name(name) for name in settings.unlisted_event_names
        )
        """Record warnings already given at start-up: counted, not logged again."""
        self.dead_letters = DeadLetterWriter(settings.dead_letter_path)
        self.gate = StateGate(
            before_emit=self.before_state,
            after_emit=self.after_state,
            on_offer=self.output.at_state,
        )
        self.deliveries = Deliveries(
            sender=lambda: self.sender,
            gate=self.gate,
            dead_letters=self.dead_letters,
            summary=self.summary,
            request_size=settings.batch_size,
            parallel=settings.max_parallel_requests,
            after_batch=self.log_progress,
            checkpoint=self.interrupt.check,
            known_accounts=settings.check_accounts,
            probe=lambda accounts: token_accepted(
                settings, accounts, user_agent=self.user_agent, stop=self.stopping
            ),
            settle=self.output.settle,
        )
        self._sender: Sender | None = None
        self.user_agent = user_agent
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call
        self._warned_streams: set[str] = set()
        self._seen_streams: set[str] = set()
        self._started = time.monotonic()
        self._last_progress = self._started
        self._metric_counts: dict[tuple[str, str], int] = {}
        if open_outputs:
            self.output.open(RunParts(self.gate, self.deliveries, self.summary, self.log_progress))

    def before_state(self, line: str, watermark: int) -> None:
        """Make durable what the STATE ``line`` covers: dead letters, the output's files."""
        self.dead_letters.sync()
        self.output.before_state(line, watermark)

    def after_state(self) -> None:
        """The STATE line went out: the output confirms what it covers."""
        self.output.after_state()

    @property
    def sender(self) -> Sender:
        """The sender, created on first use so that a run with no events opens nothing."""
        with self._lock:
            if self._sender is None:
                self._sender = self.output.new_sender(self.user_agent, self.stopping)
            return self._sender

    def reject(
        self,
        stream: str,
        key: dict[str, Any],
        reasons: Sequence[str],
        event: dict[str, Any] | None,
        ad_account_id: str | None,
    ) -> None:
        """Dead-letter a record that cannot become a valid event, before it is sent.

        ``ad_account_id`` is the account the record was bound for, ``None`` when its
        account is what is wrong with it.
        """
        reason = "; ".join(reasons)
        for one in reasons:
            self.summary.count(stream, "reasons", one)
        self.summary.update(stream, dead_lettered_locally=1)
        if ad_account_id:  # "" with output csv: no ad account
            self.summary.update_account(ad_account_id, dead_lettered_locally=1)
        self.dead_letters.write(
            stream=stream,
            ad_account_id=ad_account_id or None,
            key=key,
            reason=reason,
            stage="target",
            event=event,
        )

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
            "Stream '%s' is not listed in the `streams` setting; its records are ignored "
            "(unmapped_streams is 'ignore')",
            stream,
        )

    def saw_stream(self, stream: str) -> None:
        """Note that the input has a SCHEMA for ``stream``."""
        with self._lock:
            self._seen_streams.add(stream)

    def streams_not_in_input(self) -> list[str]:
        """Configured streams for which the input held no SCHEMA."""
        with self._lock:
            return sorted(set(self.settings.streams) - self._seen_streams)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._started

    def log_progress(self, stream: str = "", events: int = 0, seconds: float = 0.0) -> None:
        """Log progress at most every ``progress_interval`` seconds, after a batch.

        One line per stream with its counters as structured fields (``extra``), and
        per-outcome counts as SDK metric points; a slow or retried batch is named.
        """
        with self._lock:
            now = time.monotonic()
            if now - self._last_progress < self.settings.progress_interval:
                return
            self._last_progress = now
        elapsed = max(self.elapsed(), 1e-9)
        for name, stats in self.summary.items():
            counts = stats.counts()
            delivered = stats.delivered
            logger.info(
                "Progress for stream '%s': %d records read, %d events %s, %d dead-lettered, "
                "%d skipped; %.0f events/s",
                name,
                counts["records_read"],
                delivered,
                "written" if self.output.writes_files else "processed",
                counts["dead_lettered_locally"] + counts["failed_at_pinterest"],
                counts["skipped"],
                delivered / elapsed,
                extra={"stream_name": name, "counts": counts},
            )
        self.emit_outcome_metrics()

    def emit_outcome_metrics(self) -> None:
        """Emit each stream's outcome counts since the last call as SDK metric points.

        ``outcome_count`` counters tagged with the stream and a ``status`` of
        ``processed`` (or ``written`` in a dry run), ``failed`` (at Pinterest),
        ``dead_lettered`` (here) or ``skipped``. Not ``record_count``: the SDK's counter
        counts each record read under that name already.
        """
        with self._lock:
            for name, stats in self.summary.items():
                current = {
                    "written" if self.output.writes_files else "processed": stats.delivered,
                    "failed": stats.failed_at_pinterest,
                    "dead_lettered": stats.dead_lettered_locally,
                    "skipped": stats.skipped,
                }
                for status, value in current.items():
                    delta = value - self._metric_counts.get((name, status), 0)
                    if delta:
                        self._metric_counts[(name, status)] = value
                        point = metrics.Point(
                            "counter",
                            OUTCOME_COUNT,
                            delta,
                            {"stream": name, "status": status, "pid": os.getpid()},
                        )
                        metrics.log(metrics.get_metrics_logger(), point)

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
                too_old = stats["reasons"].get(TOO_OLD[self.output.rules], 0)
                head = (
                    f"stream '{name}': {rejected} of {read} records were rejected, more than "
                    f"max_rejected_ratio {limit:g} allows"
                )
                where = f"rejected records are in {self.settings.dead_letter_path}"
                if too_old * 2 > rejected:
                    # Old data is not a mapping mistake: say so, and how to send it anyway.
                    raise TooManyRejectedError(
                        f"{head}; {too_old} of them are too old ({TOO_OLD[self.output.rules]})"
                        f". The mapping is not at fault: {self._too_old_ways_out(limit)}; "
                        f"{where}",
                    )
                raise TooManyRejectedError(
                    f"{head}; check the mapping (top reasons: {top}); {where}",
                )

    def signal_shortfalls(self) -> list[str]:
        """Each share of a stream's sent events, per event name, under its signal's floor."""
        floors = self.settings.min_signal_coverage
        shortfalls = []
        for stream, stats in self.summary.items():
            for event_name, quality in stats.signal_quality(SIGNALS).items():
                for signal, floor in floors.items():
                    if quality[signal] < floor:
                        shortfalls.append(
                            f"stream '{stream}', {event_name} events: {signal} on "
                            f"{quality[signal]:.4g} of {quality['events']}, under "
                            f"min_signal_coverage.{signal} {floor:g}",
                        )
        return shortfalls

    def check_signal_coverage(self, logger: logging.Logger) -> None:
        """Warn about, or stop on (``signal_coverage_action``), each signal under its floor.

        Raises:
            SignalCoverageError: a share is under its floor and the action is ``fail``.

        """
        shortfalls = self.signal_shortfalls()
        if not shortfalls:
            return
        advice = (
            "a mapped field may be renamed or empty: see the summary's signal_quality and "
            "the mapping's user_data"
        )
        if self.settings.signal_coverage_action == "fail":
            raise SignalCoverageError(f"{'; '.join(shortfalls)}; {advice}")
        for shortfall in shortfalls:
            logger.warning("Signal coverage: %s; %s", shortfall, advice)

    def _too_old_ways_out(self, limit: float) -> str:
        """The ways to run a stream whose records are mostly too old for the output."""
        days = MAX_EVENT_AGE[self.output.rules] // 86400
        ways = [f"set the tap's start date within the last {days} days"]
        ways += self.output.wider_windows(MAX_EVENT_AGE)
        ways.append(
            f"or raise max_rejected_ratio above {limit:g} (1 never stops) to send the recent "
            "records and dead-letter the old ones",
        )
        return ", ".join(ways)

    def report(
        self,
        exit_code: int | None,
        message: str = "",
        *,
        error_type: str | None = None,
    ) -> dict[str, Any]:
        """Return the run summary: outcome, mode, timing and every stream's counters.

        ``exit_code`` is ``None`` while the run is going (status ``running``). Every
        text in it is scrubbed of the token and personal data: the message may quote an
        error that came from the network.
        """
        elapsed = self.elapsed()
        totals = self.summary.totals()
        delivered = totals["processed"] + totals["events_written"]
        status = "running" if exit_code is None else STATUSES.get(exit_code, "failed")
        report = {
            "exit_code": exit_code,
            "status": status,
            "message": message,
            "error_type": error_type,
            "mode": self.output.mode,
            "dry_run": self.settings.dry_run,
            "test_mode": self.settings.test_mode,
            "elapsed_seconds": round(elapsed, 3),
            "events_per_second": round(delivered / elapsed, 1) if elapsed > 0 else 0.0,
            "totals": totals,
            "dead_letter_path": self.settings.dead_letter_path,
            "dead_lettered": self.dead_letters.count,
            "states_emitted": self.gate.emitted,
            "states_held": self.gate.held,
            "streams_not_in_input": self.streams_not_in_input(),
            **self.summary.as_dict(),
        }
        result: dict[str, Any] = scrub_data(report)
        return result

    def write_summary(
        self,
        exit_code: int | None,
        message: str = "",
        *,
        error_type: str | None = None,
    ) -> None:
        """Log the run's closing line; write the summary as JSON to ``summary_path``.

        The closing line is the run's last: it says how the run ended, in which mode,
        how long it took and at what rate, so the end of any log tells the outcome.
        With ``exit_code`` ``None`` (the start of a run) only the file is written, with
        status ``running``: an earlier run's summary never outlives a crash of this one.
        A summary that cannot be written is reported and never changes the exit code.
        """
        report = self.report(exit_code, message, error_type=error_type)
        if exit_code is not None:
            self._log_closing_line(report)
        path = self.settings.summary_path
        if not path:
            return
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        except OSError as exc:
            logger.warning("summary_path: %s: not written: %s", path, describe(exc))

    def _log_closing_line(self, report: dict[str, Any]) -> None:
        totals = report["totals"]
        exit_code = report["exit_code"]
        outcome = {
            "succeeded": "succeeded",
            "interrupted": f"interrupted (exit code {exit_code})",
        }.get(report["status"], f"failed (exit code {exit_code})")
        delivered = (
            f"{totals['events_written']} events written"
            if self.output.writes_files
            else f"{totals['events_sent']} events sent, {totals['processed']} processed"
        )
        if not self.output.writes_files and totals["events_written"]:
            delivered += f", {totals['events_written']} events written"  # output api+csv
        line = (
            f"Run {outcome} in {report['elapsed_seconds']:.1f}s ({self.output.mode}): "
            f"{totals['records_read']} records read, {delivered}, "
            f"{totals['dead_lettered_locally'] + totals['failed_at_pinterest']} dead-lettered, "
            f"{totals['skipped']} skipped; {report['events_per_second']:.0f} events/s"
        )
        if report["message"]:
            line += f". {report['message']}"
        extra = {"counts": totals, "elapsed_seconds": report["elapsed_seconds"]}
        if exit_code == 0:
            logger.info(line, extra=extra)
        else:
            logger.error(line, extra=extra)

    def stop_deliveries(self) -> BaseException | None:
        """After a termination signal: end retries, give requests in flight a grace period.

        Requests already on the wire may finish for up to ``shutdown_grace`` seconds (a
        second signal ends the grace at once); then they are cut. Returns the first
        delivery failure that is not the stop itself (e.g. a 400 that arrived after the
        signal), for the caller to report.
        """
        self.stopping.set()
        grace_ends = time.monotonic() + self.settings.shutdown_grace
        signals = len(self.interrupt.signals)
        in_flight = self.deliveries.in_flight
        if in_flight:
            logger.info(
                "Waiting up to %gs for %d batch(es) in flight; no more input is read",
                self.settings.shutdown_grace,
                in_flight,
            )
        while not self.deliveries.wait_for(0.1):
            if time.monotonic() >= grace_ends or len(self.interrupt.signals) > signals:
                break
        with self._lock:
            sender = self._sender
        abort = getattr(sender, "abort", None)
        if abort is not None and self.deliveries.in_flight:
            logger.warning("Cutting the requests still in flight; their events will be re-sent")
            abort()
            self.deliveries.wait_for(5.0)
        failure = self.deliveries.failure()
        return None if isinstance(failure, DeliveryStopped) else failure

    def close(self, *, finished: bool = False) -> None:
        """Finish the deliveries in flight, then close the sender and the output files.

        ``finished``: the input was read to its end (see :meth:`.Output.close`).
        """
        self.deliveries.close()
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()
        self.dead_letters.close()
        self.output.close(finished=finished)
