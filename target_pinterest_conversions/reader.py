"""A Singer message reader whose errors name the line number, never the line's content.

The SDK's readers log a bad line whole, which can put personal data in the logs.
This reader is built on the SDK's msgspec reader (several times faster than the
default) and raises :class:`InputError` with the line number and the problem only.

For a stream whose plan names the part of a record it reads (``StreamPlan.partial_type``),
RECORD lines are decoded to that part only: the rest of the line is skipped, not built.
Such a message is a :class:`PartialRecordMessage`, which can decode its line whole.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import IO, Any, Union

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader, decoder

from target_pinterest_conversions.context.interrupt import Interrupt
from target_pinterest_conversions.errors import InputError
from target_pinterest_conversions.pinterest.limits import mark_invalid_text

INPUT_BUFFER_BYTES = 1 << 20


def _parse_int(text: str) -> int | Decimal:
    """An integer, or a ``Decimal`` past the digits Python reads as ``int`` (4300)."""
    try:
        return int(text)
    except ValueError:
        return Decimal(text)


class UndecodableLineError(InputError):
    """A line that is not JSON; the message says why, never what the line holds."""


def decode_json(line: str | bytes | bytearray) -> Any:
    """Decode one JSON line as RECORD messages are: numbers with a fraction as ``Decimal``.

    A line msgspec refuses is read again by Python's ``json``, as the SDK's default
    reader would: it takes what taps written in Python emit (``NaN``, ``Infinity``,
    lone surrogate escapes, integers of more than 4300 digits), and the record's
    converters then refuse such values one by one instead of the run stopping. Records
    of BATCH files are decoded here too, so they reach the converters in the same types.

    Raises:
        UndecodableLineError: not UTF-8, not JSON, or nested too deeply.

    """
    try:
        return decoder.decode(line)
    except msgspec.DecodeError as exc:
        return _decode_leniently(line, exc)
    except UnicodeDecodeError:
        raise UndecodableLineError("not valid UTF-8") from None
    except RecursionError:
        raise UndecodableLineError("nested too deeply") from None


def _decode_leniently(line: str | bytes | bytearray, error: msgspec.DecodeError) -> Any:
    """Decode a line msgspec refused with Python's ``json``; else report msgspec's ``error``."""
    try:
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        message = json.loads(text, parse_float=Decimal, parse_int=_parse_int)
        # Only lines read here can hold lone surrogates: msgspec refuses them.
        return mark_invalid_text(message)
    except UnicodeDecodeError:
        raise UndecodableLineError("not valid UTF-8") from None
    except RecursionError:
        raise UndecodableLineError("nested too deeply") from None
    except ValueError:
        raise UndecodableLineError(f"not valid JSON ({error})") from None


class PartialRecordMessage(dict[str, Any]):
    """A RECORD message whose record holds only what its stream's plan reads."""

    __slots__ = ("line", "line_number")
    line: str | bytes
    line_number: int

    def whole_record(self) -> dict[str, Any]:
        """Decode the line again, whole: its record as any other RECORD line gives it."""
        try:
            message = decode_json(self.line)
        except UndecodableLineError as exc:  # unexpected: the line decoded once already
            raise InputError(f"input line {self.line_number}: {exc}") from None
        record = message.get("record") if isinstance(message, dict) else None
        if not isinstance(record, dict):
            raise InputError(f"input line {self.line_number}: the record is not an object")
        return record


_PARTIAL_DECODE_MISSES = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)
"""What a partial decode raises for a line it cannot take: the line is decoded whole,
which reports it as it would any line (msgspec's ValidationError is a DecodeError)."""


class SafeMessageReader(MsgSpecReader):
    """Reads Singer messages; a malformed line raises :class:`InputError`.

    With an :class:`Interrupt` attached, a termination signal stops the reading at the
    next line, or at once while waiting for input.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.interrupt: Interrupt | None = None
        self._partial_types: dict[str, type[dict[str, Any]]] = {}
        self._partial: msgspec.json.Decoder[Any] | None = None
        self._partial_streams: dict[type, str] = {}

    def read_partially(self, stream: str, record_type: type[dict[str, Any]] | None) -> None:
        """Decode the stream's RECORD lines as ``record_type`` from now on (``None``: whole)."""
        if record_type is None:
            self._partial_types.pop(stream, None)
        else:
            self._partial_types[stream] = record_type
        # One decoder for every such stream, told apart by the message's "stream" value.
        self._partial_streams = {
            msgspec.defstruct(
                "RecordLine", [("type", str), ("record", kind)], tag_field="stream", tag=name
            ): name
            for name, kind in self._partial_types.items()
        }
        self._partial = (
            msgspec.json.Decoder(
                Union[tuple(self._partial_streams)],  # noqa: UP007
                float_hook=Decimal,
            )
            if self._partial_streams
            else None
        )

    def process_lines(
        self,
        file_input: IO[Any] | None,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
    ) -> Counter[str]:
        """Process every line, stopping early if a termination signal arrives."""
        source = file_input or self.default_input
        if self.interrupt is not None:
            source = self.interrupt.lines(source)  # type: ignore[assignment]
        return super().process_lines(source, callbacks)

    @property
    def default_input(self) -> IO[Any]:  # type: ignore[override]
        """Standard input as bytes, read in large blocks.

        Bytes, so that bad UTF-8 is reported with its line number. Large blocks,
        because each read releases the GIL, and a delivery thread waiting for it then
        holds it until its next I/O: with the default 8 KiB blocks the reading thread
        gave the GIL away every few records (thousands of context switches a run).
        A read returns what the pipe holds, so a slow tap is not waited for.
        """
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            return sys.stdin.buffer
        return open(fd, "rb", buffering=INPUT_BUFFER_BYTES, closefd=False)

    def deserialize_json(self, line: str | bytes) -> dict[str, Any]:
        """Decode one line as :func:`decode_json` does; a message must be an object."""
        self.line_number += 1
        if self._partial is not None:
            try:
                partial = self._partial.decode(line)
            except _PARTIAL_DECODE_MISSES:
                pass  # another message, another stream, or a record that does not fit
            else:
                if partial.type == "RECORD":
                    stream = self._partial_streams[partial.__class__]
                    # Built by dict's own constructor: no Python frame per line.
                    message = PartialRecordMessage(
                        type="RECORD", stream=stream, record=partial.record
                    )
                    message.line, message.line_number = line, self.line_number
                    return message
        try:
            message = decode_json(line)
        except UndecodableLineError as exc:
            raise InputError(f"input line {self.line_number}: {exc}") from None
        if not isinstance(message, dict):
            raise InputError(f"input line {self.line_number}: a Singer message must be an object")
        return message

    def assert_line_requires(self, line_dict: dict[str, Any], requires: set[str]) -> None:  # type: ignore[override]
        """Check that a message has the keys its type requires."""
        if requires.issubset(line_dict):
            return
        missing = sorted(requires - set(line_dict))
        if missing:
            kind = line_dict.get("type", "message")
            raise InputError(
                f"input line {self.line_number}: {kind} message lacks {', '.join(missing)}",
            )

    def _process_unknown_message(self, message_dict: dict[str, Any]) -> None:
        raise InputError(
            f"input line {self.line_number}: unknown message type "
            f"'{str(message_dict.get('type'))[:40]}'",
        )
