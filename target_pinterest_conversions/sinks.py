"""Sinks: wire each record through the pipeline and each batch to the run's output.

The rules live in the modules they name (mapping, events, privacy, validation, client,
outcome, state); the sinks only connect them to the SDK's record and batch hooks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from singer_sdk import metrics
from singer_sdk.sinks import BatchSink

from target_pinterest_conversions.check import check_connection
from target_pinterest_conversions.conversion.plan import StreamPlan
from target_pinterest_conversions.delivery.client import MAX_EVENTS_PER_REQUEST
from target_pinterest_conversions.errors import ConfigError
from target_pinterest_conversions.mapping.binding import MappingSchemaError, bind_mapping
from target_pinterest_conversions.pinterest.signals import counted_name, signal_mask

if TYPE_CHECKING:
    from target_pinterest_conversions.target import TargetPinterestConversions


REJECTION_SAMPLE = 100
"""Records a stream must have before ``max_rejected_ratio`` can stop it mid-run."""


class ProgressCounter(metrics.Counter):
    """The SDK's ``record_count`` of a stream, logged at the run's ``progress_interval``.

    The SDK logs it every 60 s whatever the setting. Here it follows the progress lines:
    every ``progress_interval`` seconds while records arrive, and with 0 (progress after
    every batch) once per batch (:meth:`flush`), never once per record; what is left is
    logged at the end, and a count of 0 never.
    """

    def __init__(self, stream: str, interval: float) -> None:
        super().__init__(metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: stream}, interval)

    def _ready_to_log(self) -> bool:
        return self.log_interval > 0 and super()._ready_to_log()

    def flush(self) -> None:
        """Log the records counted since the last point, if any."""
        if self.value:
            self._pop()

    def exit(self) -> None:
        """Log what is left at the end of the stream."""
        self.flush()


class PinterestEventsSink(BatchSink):
    """Turns a mapped stream's records into events and delivers them in batches.

    Contract: every record is either added to the pending batch as a valid event or
    written to the dead-letter output before :meth:`process_record` returns; a batch is
    closed in the state gate only once every event in it has Pinterest's verdict. The
    batch keeps each ad account's events apart: a request goes to one account.
    """

    MAX_SIZE_DEFAULT = MAX_EVENTS_PER_REQUEST
    include_sdc_metadata_properties = False

    def __init__(self, target: TargetPinterestConversions, *args: Any, **kwargs: Any) -> None:
        self._run = target.run
        self._settings = target.run.settings
        super().__init__(target, *args, **kwargs)
        try:
            self._mapping, dropped = bind_mapping(
                self._settings.streams[self.stream_name],
                self.schema,
            )
        except MappingSchemaError as exc:
            raise ConfigError(str(exc)) from None
        if dropped:
            self.logger.info(
                "Stream '%s': preset paths not in this schema, not used: %s",
                self.stream_name,
                ", ".join(dropped),
            )
        self._output = target.run.output
        #: The stream's one ad account; ``None`` when each record names its own, ``""``
        #: when the output names none (the CSV file is uploaded to an account in Ads Manager).
        source = self._mapping.ad_account_id
        self._account = self._output.account(
            self._settings.ad_account_id
            if source is None
            else (str(source.const) if source.is_const else None)
        )
        self._stats = self._run.summary.stats(self.stream_name)
        # The SDK asks max_size (three properties) after every record; it cannot change.
        self._max_size = self.max_size
        self._plan = StreamPlan(
            self._mapping,
            self.schema,
            self.key_properties,
            validate=self.config.get("validate_records", True),
            partner_name=self._settings.partner_name,
            default_country=self._settings.default_phone_country,
            output=self._output.rules,
        )

    def get_validator(self) -> None:
        """Disable the SDK's validator: its errors print field values (personal data)."""
        return

    @property
    def is_full(self) -> bool:
        """Tell whether the batch holds ``max_size`` records (fixed by the settings)."""
        return self._batch_records_read >= self._max_size

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        # Replaces the SDK's step, which validates every field (echoing values in its
        # errors) and parses every top-level date-time (logging unparsable values, and
        # killing the run by default). process_record checks the mapped paths only;
        # times are parsed by the event builder, which dead-letters a record it
        # cannot read.
        return record

    @property
    def partial_type(self) -> type[dict[str, Any]] | None:
        """The part of a record this stream's plan reads (``StreamPlan.partial_type``)."""
        return self._plan.partial_type

    #: Set by the target just before :meth:`process_record` when the record is only the
    #: part the plan reads (:attr:`partial_type`): decodes the whole record.
    whole_record: Callable[[], dict[str, Any]] | None = None

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Convert the record; queue its events, dead-letter or skip it, as it turns out."""
        whole, self.whole_record = self.whole_record, None
        run = self._run
        # Numbered and counted by the reading thread only, hence no lock.
        seq = run.gate.next_seq()
        self._stats.records_read += 1
        account = self._account
        problem: tuple[str, ...] = ()  # why the record has no account, when it has none
        if account is None:
            account, why = self._plan.ad_account(record)
            problem = (why,) if why else ()
        now = int(time.time())
        converted = (
            self._plan.convert(record, now)
            if whole is None
            else self._plan.convert_partial(record, now, whole)
        )
        if converted.event is not None:
            if account is not None:
                self._queue(context, seq, account, converted.event, converted.key, now)
            else:
                run.reject(self.stream_name, converted.key, problem, converted.event, None)
            return
        for conversion in converted.conversions:
            for field, reason in conversion.dropped:
                run.summary.count(self.stream_name, "dropped_values", f"{field} {reason}")
            for warning in conversion.warnings:
                first = run.summary.count(self.stream_name, "warnings", warning)
                if first and warning not in run.announced_warnings:
                    self.logger.warning(warning)
            if conversion.skipped:
                run.skip(self.stream_name, conversion.reasons)
            elif conversion.event is None:
                run.reject(
                    self.stream_name,
                    conversion.key,
                    [*conversion.reasons, *problem],
                    conversion.partial_event,
                    account,
                )
            elif account is None:
                run.reject(self.stream_name, conversion.key, problem, conversion.event, None)
            else:
                self._queue(context, seq, account, conversion.event, conversion.key, now)

    def _queue(
        self,
        context: dict[str, Any],
        seq: int,
        account: str,
        event: dict[str, Any],
        key: dict[str, Any],
        now: int,
    ) -> None:
        """Hand a valid event, checked at ``now``, to the output; count its match signals."""
        self._stats.count_signals(counted_name(event), signal_mask(event))
        self._output.queue(self.stream_name, context, seq, account, event, key, now)

    def _after_process_record(self, context: dict[str, Any]) -> None:
        # The SDK logs the whole batch context here at DEBUG, once per record.
        return

    def get_sink_record_counter(self) -> metrics.Counter:
        """The SDK's ``record_count``, logged with the progress lines (:class:`ProgressCounter`)."""
        self._counter = ProgressCounter(self.stream_name, self._settings.progress_interval)
        return self._counter

    def process_batch(self, context: dict[str, Any]) -> None:
        """Hand the batch to the output (the deliveries, by account); STATE waits for them."""
        if not self._settings.progress_interval:
            # Progress after every batch: the record count too. The reading thread is
            # idle meanwhile (a drain), so the count cannot change under the flush.
            self._counter.flush()
        self._output.flush(self.stream_name, context)
        self._run.check_rejections(self.stream_name, sample=REJECTION_SAMPLE)


class IgnoredStreamSink(BatchSink):
    """Counts and drops the records of streams that have no mapping in ``streams``.

    Used only when ``unmapped_streams`` is ``ignore``: by default such a stream stops
    the run before any of its records is read.
    """

    include_sdc_metadata_properties = False

    def __init__(self, target: TargetPinterestConversions, *args: Any, **kwargs: Any) -> None:
        self._run = target.run
        super().__init__(target, *args, **kwargs)

    def setup(self) -> None:
        """Warn once per stream that it is not mapped."""
        self._run.warn_ignored(self.stream_name)

    def get_sink_record_counter(self) -> metrics.Counter:
        """The SDK's ``record_count``, logged with the progress lines (:class:`ProgressCounter`)."""
        return ProgressCounter(self.stream_name, self._run.settings.progress_interval)

    def get_validator(self) -> None:
        """Ignored records need no validation."""
        return

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        # Ignored records are neither validated nor parsed: nothing can fail on them.
        return record

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Count the record; nothing is sent."""
        self._run.summary.ignored_streams[self.stream_name] += 1

    def process_batch(self, context: dict[str, Any]) -> None:
        """Nothing to deliver."""


class ConnectionCheckSink(IgnoredStreamSink):
    """The stream ``meltano config test`` sends: runs the connection check instead.

    Its records are synthetic, so they are counted and dropped, never sent; the check
    sends Pinterest one test event of its own and raises when Pinterest refuses it.
    """

    def setup(self) -> None:
        """Run the connection check; its failure stops the run with its cause."""
        message = check_connection(
            self._run.settings,
            now=int(time.time()),
            user_agent=self._run.user_agent,
        )
        self.logger.info(message)
