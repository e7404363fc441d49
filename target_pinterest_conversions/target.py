"""The Singer target: settings, wiring, delivery-gated STATE and exit codes."""

from __future__ import annotations

import copy
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click
import dotenv
from singer_sdk import Target
from singer_sdk.exceptions import (
    ConfigValidationError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import Sink

from target_pinterest_conversions.about import markdown_about
from target_pinterest_conversions.batch_files import (
    BatchFileError,
    batch_compression,
    file_label,
    iter_batch_records,
)
from target_pinterest_conversions.check import MELTANO_TEST_STREAM, check_connection
from target_pinterest_conversions.context.files import check_writable
from target_pinterest_conversions.context.interrupt import PROCESS, Interrupted
from target_pinterest_conversions.context.redaction import install as install_redaction
from target_pinterest_conversions.delivery.outputs import Output
from target_pinterest_conversions.errors import (
    EXIT_CONFIG,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_UNEXPECTED,
    ConfigError,
    InputError,
    TargetError,
)
from target_pinterest_conversions.mapping.suggest import did_you_mean
from target_pinterest_conversions.quality import read_quality
from target_pinterest_conversions.reader import PartialRecordMessage, SafeMessageReader
from target_pinterest_conversions.run import Run, output_for
from target_pinterest_conversions.settings import (
    CONFIG_SCHEMA,
    SDK_SETTINGS,
    Settings,
    env_settings,
    load_settings,
    unknown_env_settings,
    unknown_settings,
    unmapped_stream_message,
    validation_schema,
)
from target_pinterest_conversions.sinks import (
    ConnectionCheckSink,
    IgnoredStreamSink,
    PinterestEventsSink,
)


def _not_the_sdks_env_skip_line(record: logging.LogRecord) -> bool:
    """Drop the SDK's "Skipping parse of env var settings..." line.

    This target reads the environment itself (``env_config``, with ``--config ENV``) and
    hands the SDK the settings already read, so the SDK is always told to skip the
    environment, and its line would say that nothing was read from it. ``invoke`` logs
    which settings came from the environment instead.
    """
    return record.msg != "Skipping parse of env var settings..."


SDK_LOOP_OVERRIDES: Mapping[str, str] = {
    "Target._process_record_message": (
        "for a stream without stream maps or flattening, the SDK's loop less the steps in "
        "SDK_LOOP_STEPS_LEFT_OUT"
    ),
    "Sink.get_validator": "the SDK's validator prints field values (personal data) in errors",
    "Sink._validate_and_parse": (
        "validates every field and parses every top-level date-time; the conversion plan "
        "checks the mapped paths and reads times itself"
    ),
    "Sink._after_process_record": "logs the whole batch context at DEBUG, once per record",
    "Sink.get_sink_record_counter": "the record count follows progress_interval, not 60 s",
    "Sink.is_full": "max_size is read once: batch_size_rows is fixed by the settings",
}
"""Every SDK member of the per-record loop this target replaces, and why; the SDK's
public hooks (``preprocess_record``, stream maps, ``validate_records``, metrics) are kept.
``tests/test_sdk_contract.py`` fails when an override is added or removed without this
list saying so."""

SDK_LOOP_STEPS_LEFT_OUT: Mapping[str, str] = {
    "_assert_line_requires": "a message without a record dict takes the SDK's own loop",
    "copy": "the record copy before the map: the one map here is the identity",
    "transform": "the identity map (SameRecordTransform, no flattening) returns the record",
    "get_sink": "the active sink is looked up directly; a new SCHEMA replaces it as before",
    "_add_sdc_metadata_to_record": "no _sdc columns: include_sdc_metadata_properties is off",
    "_remove_sdc_metadata_from_record": (
        "the mapping reads only the paths it names; a tap's _sdc fields stay readable "
        "(skip_when on _sdc_deleted_at)"
    ),
    "info": "the 'sink is full' line, once per 1000 records; progress lines say it",
}
"""The calls of ``Target._process_record_message`` (singer-sdk 0.54.9) that the fast
route does not make, and why each does nothing here; the contract test derives the
difference from both sources and compares it with this list."""


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
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        *Target.capabilities,
        PluginCapabilities.BATCH,
    ]

    def __init__(self, *args: Any, settings: Settings | None = None, **kwargs: Any) -> None:
        self.run: Run
        self.interrupt = PROCESS
        #: Streams without stream maps or flattening: their records take the fast route.
        self._unmapped_streams: set[str] = set()
        logger = logging.getLogger(self.name)
        logger.addFilter(_not_the_sdks_env_skip_line)
        try:
            super().__init__(*args, **kwargs)
        finally:
            logger.removeFilter(_not_the_sdks_env_skip_line)
        if settings is None:
            settings = load_settings(self.config)
        install_redaction(settings.secrets)
        self.run = Run(
            settings,
            user_agent=f"{self.name}/{self.plugin_version}",
            interrupt=self.interrupt,
        )
        if isinstance(self.message_reader, SafeMessageReader):
            self.message_reader.interrupt = self.interrupt

    @classmethod
    def print_about(cls, output_format: str | None = None) -> None:
        """Print ``--about``; the markdown format as Markdown that renders (see about.py)."""
        if output_format != "markdown":
            super().print_about(output_format)
            return
        print(markdown_about(cls._get_about_info()), end="")

    def _setup_signal_handlers(self) -> None:
        # Replaces the SDK's handler, which drains batches inside the signal handler
        # and can deadlock on the logging lock: see interrupt.py.
        self.interrupt.install()

    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        line = getattr(self.message_reader, "line_number", "?")
        schema = message_dict.get("schema")
        if not isinstance(schema, dict):
            raise InputError(
                f"input line {line}: the SCHEMA message for "
                f"stream '{str(message_dict.get('stream'))[:100]}' has no schema object",
            )
        keys = message_dict.get("key_properties")
        if keys is not None and not (
            isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        ):
            raise InputError(
                f"input line {line}: key_properties of stream "
                f"'{str(message_dict.get('stream'))[:100]}' must be a list of field names",
            )
        super()._process_schema_message(message_dict)
        # A SCHEMA message is where the SDK sets a stream's maps and sink: the record
        # loop then asks a set, not the maps, which route a record takes.
        stream = message_dict["stream"]
        maps = self.mapper.stream_maps.get(stream)
        if (
            maps
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
        ):
            self._unmapped_streams.add(stream)
        else:
            self._unmapped_streams.discard(stream)
        if isinstance(self.message_reader, SafeMessageReader):
            sink = self._sinks_active.get(stream)
            partial = (
                sink.partial_type
                if isinstance(sink, PinterestEventsSink)
                and stream in self._unmapped_streams
                and type(sink).preprocess_record is Sink.preprocess_record
                else None
            )
            self.message_reader.read_partially(stream, partial)

    @classmethod
    def config_errors(cls, config: dict[str, Any]) -> list[str]:
        """Check ``config`` against the settings: unknown keys first, then the schema.

        Messages name settings and rules, never values. The schema's defaults are
        filled into ``config`` as the SDK does.
        """
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        errors = unknown_settings(config, {*schema["properties"], *SDK_SETTINGS})
        validator = JSONSchemaValidator(validation_schema(schema))
        errors += [_describe(e) for e in validator.iter_errors(config)]
        return errors

    @classmethod
    def checked_settings(cls, config: dict[str, Any]) -> Settings:
        """Check ``config`` completely and return the settings to run with.

        Raises:
            ConfigValidationError: unknown keys or schema errors, one message each.
            ConfigError: a setting is invalid in a way the schema cannot express.

        """
        errors = cls.config_errors(config)
        if errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return load_settings(config)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate with messages that name settings, not values; reject unknown keys."""
        errors = self.config_errors(self._config)
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    @classmethod
    def cb_config(
        cls,
        ctx: click.Context,
        param: click.Option,
        value: tuple[str, ...],
    ) -> Any:
        """Read the ``--config`` files; a missing or broken file is one line and exit 2."""
        for path in value:
            if path == "ENV":
                continue
            problem = config_file_problem(Path(path))
            if problem:
                cls.logger.error("Config error: %s: %s", path, problem)
                ctx.exit(EXIT_CONFIG)
        return super().cb_config(ctx, param, value)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, plus ``--check`` and ``--quality``."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--check"],
                is_flag=True,
                help=(
                    "Check the settings and the connection: send Pinterest one synthetic "
                    "event with test=true (validated, not recorded), then exit; stdin is "
                    "not read."
                ),
            ),
        )
        command.params.append(
            click.Option(
                ["--quality"],
                is_flag=True,
                help=(
                    "Read Pinterest's Event Quality Score of each known ad account (a token "
                    "with ads:read) and log it beside the last run's signal shares from "
                    "summary_path, then exit; stdin is not read."
                ),
            ),
        )
        return command

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """Mapped streams get the events sink; an unmapped one stops the run by default.

        Raises:
            ConfigError: the stream has no mapping and ``unmapped_streams`` is ``fail``.

        """
        settings = self.run.settings
        if stream_name in settings.streams:
            self.run.saw_stream(stream_name)
            return PinterestEventsSink
        if stream_name == MELTANO_TEST_STREAM:
            return ConnectionCheckSink
        if settings.unmapped_streams == "ignore":
            return IgnoredStreamSink
        raise ConfigError(unmapped_stream_message(stream_name, settings.streams))

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        # For streams without stream maps or flattening (the usual case), the SDK's
        # per-record steps minus its defensive record copy and `_sdc` column handling,
        # which cost a third of a record's time and matter only to SQL targets. The
        # steps and their order follow the SDK's loop, public hooks included
        # (preprocess_record); tests/test_sdk_contract.py pins that loop, so an SDK
        # upgrade that changes it fails loudly instead of drifting.
        # A PartialRecordMessage holds only what the stream's plan reads (the reader
        # decoded the rest of the line to nothing); its sink decodes it whole if needed.
        stream = message_dict.get("stream")
        sink = self._sinks_active.get(stream)  # type: ignore[arg-type]
        partial = message_dict.__class__ is PartialRecordMessage
        if partial and not (
            isinstance(sink, PinterestEventsSink) and stream in self._unmapped_streams
        ):
            message_dict = {**message_dict, "record": message_dict.whole_record()}  # type: ignore[attr-defined]
            partial = False
        record = message_dict.get("record")
        if stream not in self._unmapped_streams or type(record) is not dict:
            super()._process_record_message(message_dict)
            return
        if sink is None:
            self._assert_sink_exists(stream)
            return
        context = sink._get_context(record)
        sink._validate_and_parse(record)
        record = sink.preprocess_record(record, context)
        sink._singer_validate_message(record)
        sink.tally_record_read()
        if partial:
            sink.whole_record = message_dict.whole_record  # type: ignore[attr-defined]
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        sink._after_process_record(context)
        if sink.is_full:
            self.drain_one(sink)
        self._handle_max_record_age()

    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        # Each record of the listed files takes the path of a RECORD message (stream
        # maps, schema checks, mapping, batching, dead letters, STATE gating), which
        # the SDK's own BATCH handling skips; files are read line by line.
        line = getattr(self.message_reader, "line_number", "?")
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        where = f"input line {line}: BATCH message of stream '{str(stream)[:100]}'"
        try:
            compression = batch_compression(message_dict["encoding"])
        except BatchFileError as exc:
            raise InputError(f"{where}: {exc}") from None
        manifest = message_dict["manifest"]
        if not (isinstance(manifest, list) and all(isinstance(url, str) for url in manifest)):
            raise InputError(f"{where}: its manifest must be a list of file URLs")
        if stream not in self.mapper.stream_maps:
            raise InputError(f"{where}: it came before the stream's SCHEMA")
        storage = (self.config.get("batch_config") or {}).get("storage") or {}
        process, check = self._process_record_message, self.interrupt.check
        max_line_bytes = self.run.settings.batch_max_line_bytes
        for url in manifest:
            number = 0
            try:
                records = iter_batch_records(url, compression, storage.get("root"), max_line_bytes)
                for number, record in records:  # noqa: B007 - named in the error below
                    check()
                    process({"type": "RECORD", "stream": stream, "record": record})
            except BatchFileError as exc:
                raise InputError(f"input line {line}: {exc}") from None
            except (MissingKeyPropertiesError, InvalidInputLine) as exc:
                problem = " ".join(str(exc).split())
                raise InputError(
                    f"input line {line}: BATCH file {file_label(url)} line {number}: {problem}",
                ) from None

    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        self._latest_state = message_dict["value"]
        self.run.gate.offer(copy.deepcopy(message_dict["value"]))

    def _write_state_message(self, state: dict[str, Any]) -> None:
        # Called by the SDK after a full drain; the gate still refuses while a batch is
        # open, e.g. when a termination signal interrupts a drain in progress.
        self.run.gate.offer(state)

    def process_endofpipe(self) -> None:
        """Drain every sink, close resources and log the run summary.

        On a termination signal the closing is left to :func:`_interrupted`, which first
        gives the requests in flight their grace period.
        """
        try:
            super().process_endofpipe()
            self.run.deliveries.wait()
            self.run.check_rejections()
            self.run.check_signal_coverage(self.logger)
            for stream in self.run.streams_not_in_input():
                self.logger.warning(
                    "Stream '%s' is configured in `streams` but was not in the input; check "
                    "the tap's selected streams and the stream name",
                    stream,
                )
        except Interrupted:
            raise
        except BaseException:
            self.run.stopping.set()  # other batches' retries are pointless now
            self.finish()
            raise
        self.finish(finished=True)

    def finish(self, *, finished: bool = False) -> None:
        """Close the sender and output files, then log the summary (idempotent).

        ``finished``: the input was read to its end and every STATE went out.
        """
        if getattr(self, "_finished", False):
            return
        self._finished = True
        self.run.close(finished=finished)
        self.run.emit_outcome_metrics()
        self.run.summary.log(self.logger, self.run.output.written_to)
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
        check: bool = False,
        quality: bool = False,
    ) -> None:
        """Run the target; known failures end with one clear message and an exit code.

        The first log line says where events go (``DRY RUN: ...`` or ``LIVE: ...``) and
        the last one how the run ended; settings are checked before stdin is read.
        """
        if about:
            super().invoke(about=about, about_format=about_format, config=config)
        install_redaction()
        # Records and events are freed by reference counting; the cyclic collector
        # only rescans them. Fewer young-generation passes, with the start-up objects
        # frozen out of the scans, save a sixth of the run time (benchmarks/run.py).
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        target: TargetPinterestConversions | None = None
        settings: Settings | None = None
        try:
            PROCESS.check()
            config_dict = dict(config.config) if config else {}
            from_env: dict[str, Any] | None = None
            if config and config.parse_env:
                from_env = cls.env_config()
                config_dict.update(from_env)
            settings = cls.checked_settings(config_dict)
            install_redaction(settings.secrets)
            output = output_for(settings)
            # Before the check too: a check passes only if the run could start.
            _check_output_files(settings, output)
            if check:
                _check(settings, output, user_agent=f"{cls.name}/{cls.get_plugin_version()}")
            if quality:
                _quality(settings, user_agent=f"{cls.name}/{cls.get_plugin_version()}")
            cls.logger.info(output.mode)
            cls.print_version(print_fn=cls.logger.info)
            for warning in settings.warnings:
                cls.logger.warning(warning)
            if from_env is not None:
                # Names only, never values: the token may be among them.
                cls.logger.info(
                    "Settings read from the environment (--config ENV: %s* variables and "
                    "./.env): %s",
                    cls._env_var_prefix,
                    ", ".join(sorted(from_env)) or "none",
                )
            target = cls(
                config=config_dict,
                validate_config=True,
                parse_env_config=False,
                settings=settings,
            )
            target.run.write_summary(None)
            target.listen(file_input)
            target.run.write_summary(EXIT_OK)
        except (Exception, Interrupted) as exc:
            _end(target, settings, exc)

    @classmethod
    def env_config(cls) -> dict[str, Any]:
        """Settings from ``TARGET_PINTEREST_CONVERSIONS_*`` variables (and ``./.env``).

        Raises:
            ConfigValidationError: variables of the prefix that name no setting, each
                with the nearest setting, as for a misspelt key of a config file.
            ConfigError: a variable does not parse as its setting's type.

        """
        # ./.env alone, as documented: find_dotenv would walk up every parent folder,
        # where a stray .env could redirect api_url and receive the token.
        dotenv.load_dotenv(".env", override=False)
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        unknown = unknown_env_settings(schema, cls._env_var_prefix, os.environ)
        if unknown:
            raise ConfigValidationError("Config validation failed", errors=unknown)
        return env_settings(schema, cls._env_var_prefix, os.environ)


def _check(settings: Settings, output: Output, *, user_agent: str) -> NoReturn:
    """Run the connection check alone (``--check``) and exit with its verdict."""
    logging.getLogger(TargetPinterestConversions.name).info("CHECK: %s", output.mode)
    _alone(
        "check",
        lambda stop: check_connection(
            settings, now=int(time.time()), user_agent=user_agent, stop=stop
        ),
        interrupted="Connection check interrupted by {signal}: nothing was proven",
        failed="Connection check failed",
    )


def _quality(settings: Settings, *, user_agent: str) -> NoReturn:
    """Read Pinterest's Event Quality Score alone (``--quality``) and exit.

    Exit 0 once read; a refusal exits with its error's code (3 for the token).
    """
    _alone(
        "quality",
        lambda stop: read_quality(settings, user_agent=user_agent, stop=stop),
        interrupted="Quality read interrupted by {signal}",
        failed="Event Quality Score not read",
    )


def _alone(
    name: str,
    task: Callable[[threading.Event], str],
    *,
    interrupted: str,
    failed: str,
) -> NoReturn:
    """Run ``task`` (``--check``, ``--quality``) in a thread and exit with its outcome.

    The main thread waits where a termination signal may interrupt it (interrupt.py):
    SIGTERM during a Retry-After wait or a slow answer ends the task at once with exit
    143 (``stop`` ends its waits; a request in flight ends with the process). The task's
    message is logged and exits 0; a :class:`TargetError` exits with its code.
    """
    logger = logging.getLogger(TargetPinterestConversions.name)
    stop = threading.Event()
    outcome: list[str | BaseException] = []

    def work() -> None:
        try:
            outcome.append(task(stop))
        except BaseException as exc:  # handed to the main thread below
            outcome.append(exc)

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        with PROCESS.safe_wait():
            worker.join()
    except Interrupted as exc:
        stop.set()
        logger.warning(interrupted.format(signal=signal.Signals(exc.signum).name))
        sys.exit(exc.exit_code)
    result = outcome[0]
    if isinstance(result, TargetError):
        logger.error("%s: %s", failed, result)
        sys.exit(result.exit_code)
    if isinstance(result, BaseException):
        raise result
    logger.info(result)
    sys.exit(EXIT_OK)


def config_file_problem(path: Path) -> str | None:
    """Say what is wrong with a config file (one line, never its content), or ``None``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "is a directory, not a JSON file"
    except PermissionError:
        return "cannot be read (permission denied)"
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    if not isinstance(data, dict):
        return f"must hold a JSON object of settings, not {type(data).__name__}"
    return None


SDK_EXITS: dict[type[Exception], int] = {
    ConfigValidationError: EXIT_CONFIG,
    RecordsWithoutSchemaException: EXIT_INPUT,
    MissingKeyPropertiesError: EXIT_INPUT,
    InvalidInputLine: EXIT_INPUT,
}
"""The exit codes of the SDK's own errors; ours carry theirs (:class:`TargetError`)."""

_PREFIXES = {EXIT_CONFIG: "Config error", EXIT_INPUT: "Stopped, bad input"}
"""How the message of an error with this exit code begins; any other: ``Stopped``."""


def exit_for(exc: BaseException, line: object = "?") -> tuple[int, str]:
    """The exit code that ``exc`` ends the command with, and the message saying why.

    The one place that maps errors to exits: our errors carry their code
    (:class:`TargetError`, :class:`Interrupted`), the SDK's are in :data:`SDK_EXITS`,
    anything else is unexpected (1). ``line`` is the input line being read, which the
    SDK's input errors do not name. Each of the SDK's config errors is a line of its own.
    """
    if isinstance(exc, Interrupted):
        return exc.exit_code, f"Interrupted by {signal.Signals(exc.signum).name}"
    if isinstance(exc, TargetError):
        code = exc.exit_code
        text = exc.strerror if isinstance(exc, OSError) else str(exc)
    else:
        kind = next((kind for kind in SDK_EXITS if isinstance(exc, kind)), None)
        if kind is None:
            return EXIT_UNEXPECTED, f"Stopped by an unexpected error ({type(exc).__name__})"
        code = SDK_EXITS[kind]
        if isinstance(exc, ConfigValidationError):
            return code, "\n".join(f"Config error: {error}" for error in exc.errors)
        text = f"input line {line}: {' '.join(str(exc).split())}"
    return code, f"{_PREFIXES.get(code, 'Stopped')}: {text}"


def _end(
    target: TargetPinterestConversions | None,
    settings: Settings | None,
    exc: BaseException,
) -> NoReturn:
    """End the command on ``exc`` with the exit code and message of :func:`exit_for`.

    A config error before the target exists has nothing to finish: its message alone.
    """
    line = getattr(getattr(target, "message_reader", None), "line_number", "?")
    code, message = exit_for(exc, line)
    if isinstance(exc, Interrupted):
        _interrupted(target, exc, message, settings)
    logger = logging.getLogger(TargetPinterestConversions.name)
    if code == EXIT_CONFIG and target is None:
        for text in message.splitlines():
            logger.error("%s", text)
        sys.exit(code)
    unexpected = not isinstance(exc, (TargetError, *SDK_EXITS))
    if unexpected:
        logger.error("Unexpected error (%s)", type(exc).__name__, exc_info=exc)
    _stop(target, message, code, error_type=type(exc).__name__ if unexpected else None)


def _stop(
    target: TargetPinterestConversions | None,
    message: str,
    code: int,
    *,
    error_type: str | None = None,
) -> NoReturn:
    """Log why the run stops, finish it, and exit; the last line repeats the cause."""
    logger = logging.getLogger(TargetPinterestConversions.name)
    logger.error(message)
    logger.error("STATE was emitted only for records delivered or dead-lettered before this.")
    if target is not None:
        target.run.stopping.set()  # other batches' retries are pointless now
        target.finish()
        target.run.write_summary(code, message, error_type=error_type)
    sys.exit(code)


def _interrupted(
    target: TargetPinterestConversions | None,
    exc: Interrupted,
    message: str,
    settings: Settings | None = None,
) -> NoReturn:
    """Stop after SIGTERM or SIGINT: no more input, a grace period, an honest summary.

    Runs in the main thread's ordinary flow, never in the signal handler. A signal that
    arrives while the run is starting still writes the summary once the settings are
    known.
    """
    logger = logging.getLogger(TargetPinterestConversions.name)
    logger.warning("Received %s: stopping", signal.Signals(exc.signum).name)
    if target is not None:
        failure = target.run.stop_deliveries()
        if failure is not None:
            logger.error("A delivery failed while stopping: %s", failure)
            message += f"; a delivery failed while stopping: {failure}"
        target.finish()
        message += "; STATE covers only the records delivered or dead-lettered"
        target.run.write_summary(exc.exit_code, message)
    elif settings is not None:
        Run(settings, open_outputs=False).write_summary(
            exc.exit_code, message + " while starting; nothing was read"
        )
    sys.exit(exc.exit_code)


def _check_output_files(settings: Settings, output: Output) -> None:
    """Refuse, before any input is read, output paths that cannot be written."""
    if problem := output.path_problem():
        raise ConfigError(problem)
    paths = [("dead_letter_path", settings.dead_letter_path), *output.paths()]
    if settings.summary_path:
        paths.append(("summary_path", settings.summary_path))
    for setting, path in paths:
        problem = check_writable(setting, path)
        if problem:
            raise ConfigError(problem)


def _describe(error: Any) -> str:
    """Describe a config schema error by setting and rule; never print the value."""
    setting = ".".join(str(p) for p in error.absolute_path) or "config"
    rule = error.validator
    if rule == "required":
        return str(error.message)
    if rule == "additionalProperties":
        return f"{setting}: {error.message}"
    if rule == "enum":
        values = [str(v) for v in error.validator_value]
        hint = did_you_mean(str(error.instance), values)
        return f"{setting}: must be one of {', '.join(values)}{hint}"
    if rule in ("type", "pattern", "minimum", "maximum"):
        return f"{setting}: must satisfy {rule} {error.validator_value}"
    return f"{setting}: does not satisfy the '{rule}' rule"
