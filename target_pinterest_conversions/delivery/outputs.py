"""Where a run's valid events go: one :class:`Output`, chosen by :func:`make_output`.

Four outputs: the API (:class:`ApiOutput`, requests to Pinterest), the dry run
(:class:`DryRunOutput`, the same requests written to ``dry_run_path``), Ads Manager's
CSV upload files (:class:`CsvOutput`), and both, each event by its age
(:class:`RoutedOutput`, ``output: api+csv``). :func:`output_kind` is the one place that turns the
``output`` and ``dry_run`` settings into one of them; the run, the sinks, the check and
the command ask the output, never the settings, what to do. A new output is one more
subclass and one more line of :func:`output_kind`.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from target_pinterest_conversions.context.summary import RunSummary
from target_pinterest_conversions.delivery import outcome
from target_pinterest_conversions.delivery.batch import PendingEvent, PendingEvents
from target_pinterest_conversions.delivery.client import (
    DryRunSender,
    EventResult,
    PinterestClient,
    Sender,
)
from target_pinterest_conversions.delivery.csvfile import (
    UPLOAD_WINDOW_SECONDS,
    CsvWriter,
    Position,
    csv_path_problem,
)
from target_pinterest_conversions.delivery.deadletter import DeadLetterWriter
from target_pinterest_conversions.delivery.pool import Deliveries
from target_pinterest_conversions.delivery.state import StateGate
from target_pinterest_conversions.pinterest.limits import route

logger = logging.getLogger("target-pinterest-conversions")

LATE_SECONDS = 3600
"""Pinterest reports web and app events it receives later than this as offline ones."""
LATE_SOURCES = frozenset({"web", "app_android", "app_ios"})
LATE_WARNING = (
    "web or app events sent more than an hour after they happened: Pinterest reports "
    "such events as offline conversions, not web or app ones; run the target more often "
    "to keep them web or app"
)


@dataclass(frozen=True)
class OutputSettings:
    """The settings an output reads, handed over by ``run.output_for`` (not imported here)."""

    output: str
    dry_run: bool
    dry_run_path: str
    csv_path: str
    api_url: str
    test_mode: bool
    accounts_label: str
    ad_account_id: str | None
    access_token: str | None
    max_tries: int
    request_timeout: float
    max_retry_after: float


@dataclass(frozen=True)
class RunParts:
    """What an open output uses of its run, handed over by ``run.Run`` (:meth:`Output.open`)."""

    gate: StateGate
    deliveries: Deliveries
    summary: RunSummary
    log_progress: Callable[[str], None]


class Output(ABC):
    """Where valid events go, and what that changes for a run.

    Built from the settings alone (:func:`make_output`), it opens nothing until
    :meth:`open`; the command asks it for its mode line and files before any input is
    read, ``--check`` whether it contacts Pinterest.
    """

    rules: ClassVar[str] = "api"
    """The output whose checks events pass: the key of ``conversion.checks``' tables
    (``MAX_EVENT_AGE``, ``TOO_OLD``) and of ``validate_event``'s rules."""
    contacts_pinterest: ClassVar[bool] = False
    """True when events go to Pinterest: ``--check`` then sends it a test event."""
    writes_files: ClassVar[bool] = True
    """True when events only go to files: nothing is sent, events are counted as written."""
    written_to: ClassVar[str] = "the dry-run file"
    """Where events that were written, not sent, went (the summary lines)."""
    nothing_sent: ClassVar[str] = ""
    """``--check``'s verdict when the output contacts nobody."""

    def __init__(self, settings: OutputSettings) -> None:
        self.settings = settings
        self._run: RunParts | None = None
        #: Late web and app events per stream since the last batch (reading thread only).
        self._late: dict[str, int] = {}

    @property
    @abstractmethod
    def mode(self) -> str:
        """The first and last log lines' word on where events go."""

    def wider_windows(self, max_event_age: Mapping[str, int]) -> list[str]:
        """Other outputs that take older events (windows by :attr:`rules`), as ways out."""
        return []

    def path_problem(self) -> str | None:
        """What is wrong with the output's own location, checked before anything else."""
        return None

    def paths(self) -> list[tuple[str, str]]:
        """The output's files, as (setting, path), checked writable before input is read."""
        return []

    def account(self, mapped: str | None) -> str | None:
        """A stream's one ad account, given the mapping's; ``None``: each record names its own."""
        return mapped

    def new_sender(self, user_agent: str, stop: threading.Event | None = None) -> Sender:
        """The sender of requests (the run creates it on first use)."""
        raise NotImplementedError(f"{type(self).__name__} sends no requests")

    def settle(
        self,
        stream: str,
        ad_account_id: str,
        items: Sequence[PendingEvent],
        results: Sequence[EventResult],
        dead_letters: DeadLetterWriter,
        summary: RunSummary,
    ) -> int:
        """Count a request's events as written to a file: no verdict of Pinterest's."""
        return outcome.count_written(stream, ad_account_id, items, summary)

    def open(self, run: RunParts) -> None:
        """Open what the run writes to; the run's gate, deliveries and summary are ready."""
        self._run = run

    @property
    def run(self) -> RunParts:
        """What of its run the output was opened with."""
        if self._run is None:
            raise RuntimeError("the output is not open")
        return self._run

    def queue(
        self,
        stream: str,
        context: dict[str, Any],
        seq: int,
        account: str,
        event: dict[str, Any],
        key: dict[str, Any],
        now: int,
    ) -> None:
        """Take a valid event of record ``seq``, checked at ``now``: into the batch, by account."""
        if now - event["event_time"] > LATE_SECONDS and event["action_source"] in LATE_SOURCES:
            # Counted here, told to the summary once a batch (its lock is not per event).
            self._late[stream] = self._late.get(stream, 0) + 1
        batches: dict[str, PendingEvents] | None = context.get("events")
        if batches is None:
            # The batch holds undelivered events from this record on.
            self.run.gate.open_batch(context["batch_id"], seq)
            batches = context["events"] = {}
        pending = batches.get(account)
        if pending is None:
            pending = batches[account] = PendingEvents()
        pending.events.append(event)
        pending.keys.append(key)

    def flush(self, stream: str, context: dict[str, Any]) -> None:
        """Hand the sink's batch, by account, to the deliveries; STATE waits for them."""
        late = self._late.pop(stream, 0)
        if late and self.run.summary.count(stream, "warnings", LATE_WARNING, late):
            logger.warning("Stream '%s': %s", stream, LATE_WARNING)
        items = context.get("events")
        if items:
            self.run.deliveries.submit(stream, context["batch_id"], items)

    def at_state(self, watermark: int) -> None:
        """A STATE arrived after the records numbered up to ``watermark`` (reading thread)."""
        return

    def before_state(self, line: str, watermark: int) -> None:
        """Make durable what the STATE ``line`` about to go out covers (up to ``watermark``)."""
        return  # requests: STATE passes only settled events, nothing more to make durable

    def after_state(self) -> None:
        """The STATE line went out."""
        return

    def close(self, *, finished: bool) -> None:
        """Close the output's files; ``finished``: the input was read to its end."""
        return  # requests: the run closes the sender


class ApiOutput(Output):
    """``output: api``: requests to Pinterest, with its verdict on every event."""

    contacts_pinterest = True
    writes_files = False

    @property
    def mode(self) -> str:
        """``LIVE: host, ad accounts, test mode``."""
        settings = self.settings
        host = urlsplit(settings.api_url).netloc or settings.api_url
        test = ", test mode" if settings.test_mode else ""
        return f"LIVE: {host}, {settings.accounts_label}{test}"

    def wider_windows(self, max_event_age: Mapping[str, int]) -> list[str]:
        """The CSV output takes events older than the API does."""
        days = max_event_age[CsvOutput.rules] // 86400
        return [
            f"use output: api+csv to send the recent events and write those up to {days} days "
            "old to Ads Manager's upload files",
            f"or output: csv for Ads Manager's upload alone (events up to {days} days old)",
        ]

    settle = staticmethod(outcome.settle)
    """Pinterest's verdict on each event: delivered, or dead-lettered with its reason."""

    def new_sender(self, user_agent: str, stop: threading.Event | None = None) -> Sender:
        """The HTTP client; it serves every ad account: each request names its own."""
        settings = self.settings
        return PinterestClient(
            ad_account_id=settings.ad_account_id,
            access_token=settings.access_token or "",
            api_url=settings.api_url,
            test_mode=settings.test_mode,
            max_tries=settings.max_tries,
            timeout=settings.request_timeout,
            max_retry_after=settings.max_retry_after,
            user_agent=user_agent,
            stop=stop,
            account_refusals=True,  # the deliveries tell a refused account from a bad token
        )


class DryRunOutput(ApiOutput):
    """``dry_run: true``: the API's requests, written to ``dry_run_path``, never sent."""

    contacts_pinterest = False
    writes_files = True
    settle = Output.settle
    nothing_sent = (
        "Connection check: nothing was sent: dry_run is true, so Pinterest was not "
        "contacted and the token and ad accounts were not checked; the settings are "
        "valid and the output files can be written. Set dry_run to false to check them"
    )

    @property
    def mode(self) -> str:
        """``DRY RUN: request bodies to ...``."""
        return f"DRY RUN: request bodies to {self.settings.dry_run_path}"

    def paths(self) -> list[tuple[str, str]]:
        """The file of request bodies."""
        return [("dry_run_path", self.settings.dry_run_path)]

    def new_sender(self, user_agent: str, stop: threading.Event | None = None) -> Sender:
        """The writer of request bodies; no network."""
        return DryRunSender(self.settings.dry_run_path, self.settings.ad_account_id)


class CsvOutput(Output):
    """``output: csv``: Ads Manager's upload files under ``csv_path``; nothing is sent.

    Rows are written at once, in record order, and a STATE commits the rows of the
    records before it (the files' position noted when it arrived, :meth:`at_state`), so
    a STATE always covers a prefix of the files (delivery/csvfile.py), also when it goes
    out later than it came, behind API batches (:class:`RoutedOutput`).
    """

    rules = "csv"
    written_to = "the CSV files"
    nothing_sent = (
        "Connection check: nothing was sent: output is csv, so Pinterest was not "
        "contacted; the settings are valid and the output files can be written. The "
        "files are uploaded in Ads Manager"
    )

    def __init__(self, settings: OutputSettings) -> None:
        super().__init__(settings)
        self.csv: CsvWriter | None = None
        # The reading thread writes rows while a delivery thread may let a STATE out.
        self._lock = threading.Lock()
        #: Rows written per stream; and what the last STATE out covers.
        self._rows: dict[str, int] = {}
        self._covered: dict[str, int] = {}
        self._pending: dict[str, int] | None = None
        #: Per STATE received and not out yet, by watermark: the files' position, the rows.
        self._marks: dict[int, tuple[Position, dict[str, int]]] = {}

    @property
    def mode(self) -> str:
        """``CSV: Ads Manager upload files to ...``."""
        return f"CSV: Ads Manager upload files to {self.settings.csv_path}"

    def path_problem(self) -> str | None:
        """What is wrong with ``csv_path`` (a file where its folder should be, ...)."""
        return csv_path_problem(self.settings.csv_path)

    def account(self, mapped: str | None) -> str:
        """No ad account: the files are uploaded to one in Ads Manager."""
        return ""

    def open(self, run: RunParts) -> None:
        """Open the files: this locks the folder and cuts a crashed run's uncovered rows."""
        super().open(run)
        self.csv = CsvWriter(
            self.settings.csv_path, note=lambda text: logger.warning("csv_path: %s", text)
        )

    def queue(
        self,
        stream: str,
        context: dict[str, Any],
        seq: int,
        account: str,
        event: dict[str, Any],
        key: dict[str, Any],
        now: int,
    ) -> None:
        """Write the event as a row at once, counted as written."""
        assert self.csv is not None  # noqa: S101 - only called once open
        with self._lock:
            self.csv.write(event)
            self._rows[stream] = self._rows.get(stream, 0) + 1
        self.run.summary.update(stream, events_written=1)

    def flush(self, stream: str, context: dict[str, Any]) -> None:
        """Nothing is held: only the progress line."""
        self.run.log_progress(stream)

    def at_state(self, watermark: int) -> None:
        """Note where the rows of the records before this STATE end."""
        if self.csv is not None:
            with self._lock:
                self._marks[watermark] = (self.csv.position(), dict(self._rows))

    def before_state(self, line: str, watermark: int) -> None:
        """Commit the rows the STATE ``line`` covers: fsync'ed, the manifest replaced."""
        if self.csv is None:
            return
        with self._lock:
            # Every STATE is marked as it arrives; the ones it supersedes go with it.
            mark = self._marks.pop(watermark, None)
            for older in [seen for seen in self._marks if seen < watermark]:
                del self._marks[older]
            position, rows = mark if mark else (self.csv.position(), dict(self._rows))
            self.csv.commit(line, position)
            self._pending = rows

    def after_state(self) -> None:
        """The STATE line went out: the rows it covers are confirmed."""
        if self.csv is not None:
            with self._lock:
                self.csv.emitted()
                if self._pending is not None:
                    self._covered, self._pending = self._pending, None

    def close(self, *, finished: bool) -> None:
        """Close the files and say which are ready for upload, and until when."""
        csv = self.csv
        if csv is None:
            return
        with self._lock:
            cut = csv.close(finished=finished)
        if cut:
            summary: RunSummary = self.run.summary
            for stream, rows in self._rows.items():
                if uncovered := rows - self._covered.get(stream, 0):
                    summary.update(stream, events_written=-uncovered)
            # The tap resumes from the last STATE and sends these records again.
            logger.warning(
                "csv_path: %d rows written after the last STATE were cut from the files: "
                "no STATE covers them, so the next run writes them again from the records "
                "the tap re-sends",
                cut,
            )
        if csv.unsettled_rows:
            logger.warning(
                "csv_path: %d rows of an earlier, interrupted run are not settled yet; the "
                "next run settles them: do not upload %s before it finishes",
                csv.unsettled_rows,
                csv.manifest.parent,
            )
        if not csv.files:
            logger.info("No CSV file was written to %s", csv.folder)
            return
        files = ", ".join(str(path) for path in csv.files)
        deadline = ""
        if csv.oldest_event_time is not None:
            last = csv.oldest_event_time + UPLOAD_WINDOW_SECONDS
            deadline = time.strftime(" before %Y-%m-%d %H:%M UTC", time.gmtime(last))
        logger.info(
            "CSV files ready for upload in Ads Manager%s (Pinterest takes rows up to 30 days "
            "after the conversion): %s",
            deadline,
            files,
        )


class RoutedOutput(Output):
    """``output: api+csv``: each event by its age, to the API or to Ads Manager's CSV.

    Events up to 7 days old go to the API (:class:`ApiOutput`, or :class:`DryRunOutput`
    in a dry run), older ones to the CSV files (:class:`CsvOutput`, with all its
    guarantees); the plan has checked each against its route's rules
    (``pinterest.limits.route``), at the same ``now`` as :meth:`queue` routes it.
    """

    rules = "api+csv"
    api_kind: ClassVar[type[ApiOutput]] = ApiOutput
    contacts_pinterest = True
    writes_files = False
    written_to = "the CSV files"

    def __init__(self, settings: OutputSettings) -> None:
        super().__init__(settings)
        self.api = self.api_kind(settings)
        self.csv = CsvOutput(settings)

    @property
    def mode(self) -> str:
        """The API's mode line, then the CSV's, for the older events."""
        return f"{self.api.mode}; events over 7 days old: {self.csv.mode}"

    def path_problem(self) -> str | None:
        """What is wrong with ``csv_path``."""
        return self.csv.path_problem()

    def paths(self) -> list[tuple[str, str]]:
        """The API's files (in a dry run) and the CSV's."""
        return [*self.api.paths(), *self.csv.paths()]

    def account(self, mapped: str | None) -> str | None:
        """The API's ad account (the CSV files are uploaded to it)."""
        return self.api.account(mapped)

    def new_sender(self, user_agent: str, stop: threading.Event | None = None) -> Sender:
        """The API's sender."""
        return self.api.new_sender(user_agent, stop)

    def settle(
        self,
        stream: str,
        ad_account_id: str,
        items: Sequence[PendingEvent],
        results: Sequence[EventResult],
        dead_letters: DeadLetterWriter,
        summary: RunSummary,
    ) -> int:
        """The API's verdict (only API events are in requests)."""
        return self.api.settle(stream, ad_account_id, items, results, dead_letters, summary)

    def open(self, run: RunParts) -> None:
        """Open both."""
        super().open(run)
        self.api.open(run)
        self.csv.open(run)

    def queue(
        self,
        stream: str,
        context: dict[str, Any],
        seq: int,
        account: str,
        event: dict[str, Any],
        key: dict[str, Any],
        now: int,
    ) -> None:
        """Hand the event to its route's output, counted by route."""
        where = route(event["event_time"], now)
        self.run.summary.count(stream, "routes", where)
        to = self.api if where == "api" else self.csv
        to.queue(stream, context, seq, account, event, key, now)

    def flush(self, stream: str, context: dict[str, Any]) -> None:
        """Hand the API's batch to the deliveries."""
        self.api.flush(stream, context)
        self.csv.flush(stream, context)

    def at_state(self, watermark: int) -> None:
        """The CSV notes where the rows before this STATE end."""
        self.csv.at_state(watermark)

    def before_state(self, line: str, watermark: int) -> None:
        """The CSV commits the rows of the records this STATE covers."""
        self.csv.before_state(line, watermark)

    def after_state(self) -> None:
        """The CSV confirms them."""
        self.csv.after_state()

    def close(self, *, finished: bool) -> None:
        """Close both."""
        self.api.close(finished=finished)
        self.csv.close(finished=finished)


class RoutedDryRunOutput(RoutedOutput):
    """``output: api+csv`` with ``dry_run: true``: the API's part written to ``dry_run_path``."""

    api_kind = DryRunOutput
    contacts_pinterest = False
    writes_files = True
    written_to = "the dry-run file and the CSV files"
    nothing_sent = DryRunOutput.nothing_sent


def output_kind(output: str, *, dry_run: bool) -> type[Output]:
    """The output the settings ask for: the one place ``output`` and ``dry_run`` are read.

    ``load_settings`` has refused a dry run with ``output: csv``.
    """
    if output == "csv":
        return CsvOutput
    if output == RoutedOutput.rules:
        return RoutedDryRunOutput if dry_run else RoutedOutput
    if dry_run:
        return DryRunOutput
    return ApiOutput


def make_output(settings: OutputSettings) -> Output:
    """The output ``settings`` ask for (:func:`output_kind`), not open yet."""
    return output_kind(settings.output, dry_run=settings.dry_run)(settings)
