"""The Singer target: settings, wiring, delivery-gated STATE and exit codes."""

from __future__ import annotations

import copy
import gc
import logging
import sys
from typing import Any

from singer_sdk import Target
from singer_sdk.exceptions import (
    ConfigValidationError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import Sink

from target_pinterest_conversions.client import AuthError, DeliveryError
from target_pinterest_conversions.errors import (
    EXIT_AUTH,
    EXIT_CONFIG,
    EXIT_DELIVERY,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_REJECTED,
    ConfigError,
    InputError,
    TooManyRejectedError,
)
from target_pinterest_conversions.reader import SafeMessageReader
from target_pinterest_conversions.redaction import install as install_redaction
from target_pinterest_conversions.run import Run
from target_pinterest_conversions.settings import CONFIG_SCHEMA, load_settings
from target_pinterest_conversions.sinks import IgnoredStreamSink, PinterestEventsSink


class TargetPinterestConversions(Target):
    """Send Singer records to the Pinterest API for Conversions as conversion events.

    Each mapped stream's records become events whose personal data is normalized and
    SHA-256-hashed as Pinterest documents; events go out in batches of up to 1000, and
    STATE is emitted only once the records before it are delivered or dead-lettered.
    """

    name = "target-pinterest-conversions"
    package_name = "target-pinterest-conversions"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = PinterestEventsSink
    message_reader_class = SafeMessageReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.run: Run
        super().__init__(*args, **kwargs)
        settings = load_settings(self.config)
        install_redaction(settings.secrets)
        self.run = Run(settings, user_agent=f"{self.name}/{self.plugin_version}")

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate against the schema with messages that name settings, not values."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        errors = [_describe(e) for e in JSONSchemaValidator(schema).iter_errors(self._config)]
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=schema)
        return errors

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """Mapped streams get the events sink; the others are counted and ignored."""
        if stream_name in self.run.settings.streams:
            return PinterestEventsSink
        return IgnoredStreamSink

    def _process_record_message(self, message_dict: dict) -> None:
        # For streams without stream maps or flattening (the usual case), the SDK's
        # per-record steps minus its defensive record copy and `_sdc` column handling,
        # which cost a third of a record's time and matter only to SQL targets.
        stream = message_dict.get("stream")
        maps = self.mapper.stream_maps.get(stream)  # type: ignore[arg-type]
        record = message_dict.get("record")
        if (
            not maps
            or len(maps) != 1
            or type(maps[0]) is not SameRecordTransform
            or maps[0].flattening_enabled
            or type(record) is not dict
        ):
            super()._process_record_message(message_dict)
            return
        sink = self._sinks_active.get(stream)  # type: ignore[arg-type]
        if sink is None:
            self._assert_sink_exists(stream)  # type: ignore[arg-type]
            return
        context = sink._get_context(record)
        sink._validate_and_parse(record)
        sink._singer_validate_message(record)
        sink.tally_record_read()
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        if sink.is_full:
            self.drain_one(sink)
        self._handle_max_record_age()

    def _process_state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        self._latest_state = message_dict["value"]
        self.run.gate.offer(copy.deepcopy(message_dict["value"]))

    def _write_state_message(self, state: dict) -> None:
        # Called by the SDK after a full drain; the gate still refuses while a batch is
        # open, e.g. when a termination signal interrupts a drain in progress.
        self.run.gate.offer(state)

    def process_endofpipe(self) -> None:
        """Drain every sink, close resources and log the run summary."""
        try:
            super().process_endofpipe()
            self.run.deliveries.wait()
            self.run.check_rejections()
        finally:
            self.finish()

    def finish(self) -> None:
        """Close the sender and dead-letter file, then log the summary (idempotent)."""
        if getattr(self, "_finished", False):
            return
        self._finished = True
        self.run.close()
        self.run.summary.log(self.logger)
        if self.run.dead_letters.count:
            self.logger.warning(
                "%d records or events were dead-lettered to %s",
                self.run.dead_letters.count,
                self.run.settings.dead_letter_path,
            )

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        file_input: Any = None,
    ) -> None:
        """Run the target; known failures end with one clear message and an exit code."""
        if about:
            super().invoke(about=about, about_format=about_format, config=config)
        install_redaction()
        # Records and events are freed by reference counting; the cyclic collector
        # only rescans them. Fewer young-generation passes, with the start-up objects
        # frozen out of the scans, save a sixth of the run time (benchmarks/run.py).
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        target: TargetPinterestConversions | None = None
        try:
            cls.print_version(print_fn=cls.logger.info)
            target = cls(
                config=config.config if config else None,
                validate_config=True,
                parse_env_config=config.parse_env if config else False,
            )
            target.listen(file_input)
            target.run.write_summary(EXIT_OK)
        except ConfigValidationError as exc:
            for error in exc.errors:
                cls.logger.error("Config error: %s", error)  # noqa: TRY400
            sys.exit(EXIT_CONFIG)
        except ConfigError as exc:
            cls.logger.error("Config error: %s", exc)  # noqa: TRY400
            sys.exit(EXIT_CONFIG)
        except TooManyRejectedError as exc:
            _stop(target, f"Stopped: {exc}", EXIT_REJECTED)
        except AuthError as exc:
            _stop(target, f"Stopped: {exc}", EXIT_AUTH)
        except DeliveryError as exc:
            _stop(target, f"Stopped: {exc}", EXIT_DELIVERY)
        except InputError as exc:
            _stop(target, f"Stopped, bad input: {exc}", EXIT_INPUT)
        except (RecordsWithoutSchemaException, MissingKeyPropertiesError, InvalidInputLine) as exc:
            line = getattr(getattr(target, "message_reader", None), "line_number", "?")
            problem = " ".join(str(exc).split())
            _stop(target, f"Stopped, bad input: input line {line}: {problem}", EXIT_INPUT)


def _stop(target: TargetPinterestConversions | None, message: str, code: int) -> None:
    logger = logging.getLogger(TargetPinterestConversions.name)
    logger.error(message)
    logger.error("STATE was emitted only for records delivered or dead-lettered before this.")
    if target is not None:
        target.finish()
        target.run.write_summary(code, message)
    sys.exit(code)


def _describe(error: Any) -> str:
    """Describe a config schema error by setting and rule; never print the value."""
    setting = ".".join(str(p) for p in error.absolute_path) or "config"
    rule = error.validator
    if rule == "required":
        return str(error.message)
    if rule == "additionalProperties":
        return f"{setting}: {error.message}"
    if rule in ("type", "enum", "pattern", "minimum", "maximum"):
        return f"{setting}: must satisfy {rule} {error.validator_value}"
    return f"{setting}: does not satisfy the '{rule}' rule"
