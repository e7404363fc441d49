"""Sinks: wire each record through the pipeline and each batch through the sender.

The rules live in the modules they name (mapping, events, privacy, validation, client,
outcome, state); the sinks only connect them to the SDK's record and batch hooks.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_pinterest_conversions.batch import PendingEvent
from target_pinterest_conversions.binding import MappingSchemaError, bind_mapping
from target_pinterest_conversions.check import check_connection
from target_pinterest_conversions.client import MAX_EVENTS_PER_REQUEST
from target_pinterest_conversions.errors import ConfigError, InputError
from target_pinterest_conversions.fastpath import compile_fast_path
from target_pinterest_conversions.pipeline import convert_record, record_key
from target_pinterest_conversions.validation import MappedFieldsValidator

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding

    from target_pinterest_conversions.target import TargetPinterestConversions


REJECTION_SAMPLE = 100
"""Records a stream must have before ``max_rejected_ratio`` can stop it mid-run."""


class PinterestEventsSink(BatchSink):
    """Turns a mapped stream's records into events and delivers them in batches.

    Contract: every record is either added to the pending batch as a valid event or
    written to the dead-letter output before :meth:`process_record` returns; a batch is
    closed in the state gate only once every event in it has Pinterest's verdict.
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
        self._fields_validator: MappedFieldsValidator | None = None
        if self.config.get("validate_records", True):
            paths = [path for _, path in self._mapping.record_paths()]
            self._fields_validator = MappedFieldsValidator(self.schema, paths)
        self._stats = self._run.summary.stats(self.stream_name)
        compile_for = functools.partial(
            compile_fast_path,
            self._mapping,
            partner_name=self._settings.partner_name,
            default_country=self._settings.default_phone_country,
        )
        # Where the schema only sets types, the fast path checks them as it reads the
        # record, and the validator runs only for the records it passes on.
        types = self._fields_validator.type_schema if self._fields_validator else None
        self._fast_path = compile_for(types=types)
        self._check_first = self._fields_validator is not None and (
            types is None or self._fast_path is None
        )
        if self._fast_path is None:
            self._fast_path = compile_for()

    def get_validator(self) -> None:
        """Disable the SDK's validator: its errors print field values (personal data)."""
        return

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        # Replaces the SDK's step, which validates every field (echoing values in its
        # errors) and parses every top-level date-time (logging unparsable values, and
        # killing the run by default). process_record checks the mapped paths only;
        # times are parsed by the event builder, which dead-letters a record it
        # cannot read.
        return record

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Convert the record; queue the event or dead-letter the record with its reason."""
        run = self._run
        # Numbered and counted by the reading thread only, hence no lock.
        seq = run.gate.next_seq()
        self._stats.records_read += 1
        key = record_key(record, self.key_properties, self._mapping.hashed_paths)
        checked_first = self._check_first
        if checked_first and self._rejected_by_schema(record, key):
            return
        now = int(time.time())
        if self._fast_path is not None:
            # Most records: one generated function gives the event. For the rest it
            # gives None, and convert_record says what was dropped, warned or wrong.
            event = self._fast_path(record, key if self.key_properties else record, now)
            if event is not None:
                self._queue(context, seq, event, key)
                return
        if not checked_first and self._rejected_by_schema(record, key):
            return
        conversions = convert_record(
            record,
            self._mapping,
            key_properties=self.key_properties,
            now=now,
            partner_name=self._settings.partner_name,
            default_country=self._settings.default_phone_country,
        )
        for conversion in conversions:
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
                    conversion.reasons,
                    event=conversion.partial_event,
                )
            else:
                self._queue(context, seq, conversion.event, conversion.key)

    def _rejected_by_schema(self, record: dict[str, Any], key: dict[str, Any]) -> bool:
        """Dead-letter the record if its mapped paths break the stream schema."""
        if self._fields_validator is None:
            return False
        reasons = self._fields_validator.errors(record)
        if reasons:
            self._run.reject(self.stream_name, key, reasons, event=None)
        return bool(reasons)

    def _queue(
        self, context: dict[str, Any], seq: int, event: dict[str, Any], key: dict[str, Any]
    ) -> None:
        events = context.get("events")
        if events is None:
            # The batch holds undelivered events from this record on.
            self._run.gate.open_batch(context["batch_id"], seq)
            events = context["events"] = []
        events.append(PendingEvent(event=event, key=key))

    def _after_process_record(self, context: dict[str, Any]) -> None:
        # The SDK logs the whole batch context here at DEBUG, once per record.
        return

    def process_batch(self, context: dict[str, Any]) -> None:
        """Hand the batch's events to the deliveries; STATE advances once they are settled."""
        items = context.get("events")
        if items:
            self._run.deliveries.submit(self.stream_name, context["batch_id"], items)
        self._run.check_rejections(self.stream_name, sample=REJECTION_SAMPLE)

    def process_batch_files(
        self,
        encoding: BaseBatchFileEncoding,
        files: Sequence[str],
    ) -> None:
        """Refuse BATCH messages: their records would skip mapping checks and key tracking."""
        raise InputError(
            f"stream '{self.stream_name}': BATCH messages are not supported; "
            "configure the tap to emit RECORD messages",
        )


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
