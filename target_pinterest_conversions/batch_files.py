"""Records of BATCH message files, streamed one line at a time.

A BATCH message lists files of raw records, one JSON object a line (what the SDK's taps
write with ``batch_config``). Each line is decoded as a RECORD message's record is, so
the records reach the mapping in the same types. Errors name the file (its URL without
credentials or query) and the line number, never what the line holds.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

from target_pinterest_conversions.reader import UndecodableLineError, decode_json

GZIP_MAGIC = b"\x1f\x8b"
READ_BUFFER_BYTES = 1 << 20
SUPPORTED = 'jsonl files, gzip-compressed or not ({"format": "jsonl", "compression": "gzip"})'


class BatchFileError(ValueError):
    """A BATCH message or file that cannot be read; the message names the file and line."""


def batch_compression(encoding: Any) -> str:
    """The compression of a BATCH message's ``encoding``: ``gzip`` or ``none``.

    Raises:
        BatchFileError: the encoding is not an object, or its format or compression is
            not one this target reads.

    """
    if not isinstance(encoding, dict):
        raise BatchFileError("its encoding must be an object with a format")
    fmt = encoding.get("format")
    if fmt != "jsonl":
        raise BatchFileError(
            f"encoding format '{str(fmt)[:40]}' is not supported; only {SUPPORTED} are: "
            "set the tap's batch_config encoding to jsonl",
        )
    compression = encoding.get("compression") or "none"
    if compression not in ("gzip", "none"):
        raise BatchFileError(
            f"compression '{str(compression)[:40]}' is not supported; only gzip or none are",
        )
    return str(compression)


def file_label(url: str) -> str:
    """The file's URL as it may be logged: without user, password, query or fragment."""
    parts = urlsplit(url)
    if len(parts.scheme) <= 1:  # a plain path (or a Windows drive letter)
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _local_path(url: str) -> Path | None:
    """The local path a URL names (a plain path or ``file://``), or ``None`` if remote."""
    parts = urlsplit(url)
    if len(parts.scheme) <= 1:
        return Path(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return Path(url2pathname(parts.path))
    return None


def _location(url: str, storage_root: str | None) -> str:
    """Where to open a listed file: under the target's own storage root when one is set.

    As the SDK does with the target's ``batch_config.storage``: the file is looked for
    by its name under that root (the tap's folder, mounted elsewhere).
    """
    if not storage_root:
        return url
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return f"{storage_root.rstrip('/')}/{name}"


@contextmanager
def _open(location: str) -> Iterator[IO[bytes]]:
    """Open a local file directly, any other URL through fsspec (as the SDK does)."""
    path = _local_path(location)
    if path is not None:
        with path.open("rb", buffering=READ_BUFFER_BYTES) as file:
            yield file
        return
    # The SDK's batch support reads other storage (s3://, gs://, ...) through fsspec,
    # with the package of that storage installed (singer-sdk[s3] for s3://). Opened
    # here without the SDK's StorageTarget, which creates the folder it reads from.
    from upath import UPath

    with UPath(location).open("rb") as file:
        yield file


def _starts_with_gzip(file: IO[bytes]) -> bool:
    peek = getattr(file, "peek", None)
    if peek is not None:
        return bytes(peek(2)[:2]) == GZIP_MAGIC
    if file.seekable():
        head = file.read(2)
        file.seek(0)
        return head == GZIP_MAGIC
    return False


def _open_problem(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied)"
    if isinstance(exc, ImportError):
        return "no file system for this kind of URL is installed (s3:// needs singer-sdk[s3])"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return "this kind of URL is not supported (use a local path or file://)"


def _read_problem(exc: BaseException) -> str:
    # Fixed words: gzip's own messages quote the file's first bytes.
    if isinstance(exc, EOFError):
        return "corrupt gzip data: the file ends before its end-of-stream marker (truncated?)"
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        return "corrupt gzip data (not a gzip file, or a damaged one)"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return f"cannot be read ({type(exc).__name__})"


def iter_batch_records(
    url: str,
    compression: str,
    storage_root: str | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield each record of a BATCH file with its line number, reading line by line.

    Memory holds one line at a time, whatever the file's size. A file declared
    uncompressed but starting as gzip is read as gzip: the SDK's taps gzip their files
    whatever their ``compression`` says. Blank lines are skipped.

    Raises:
        BatchFileError: the file cannot be opened or read, or a line is not a JSON
            object; the message names the file and the line, never the line's content.

    """
    label = file_label(url)
    number = 0
    try:
        with _open(_location(url, storage_root)) as raw:
            gzipped = compression == "gzip" or _starts_with_gzip(raw)
            lines: Iterable[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield number, _record(line, label, number)
    except BatchFileError:
        raise
    except (EOFError, zlib.error) as exc:
        problem = _read_problem(exc)
        raise BatchFileError(f"BATCH file {label} line {number + 1}: {problem}") from None
    except (OSError, ImportError, ValueError) as exc:
        if number == 0 and not isinstance(exc, gzip.BadGzipFile):
            raise BatchFileError(f"BATCH file {label}: {_open_problem(exc)}") from None
        problem = _read_problem(exc)
        raise BatchFileError(f"BATCH file {label} line {number + 1}: {problem}") from None


def _record(line: bytes, label: str, number: int) -> dict[str, Any]:
    """Decode one line of a BATCH file, which must hold a JSON object."""
    try:
        record = decode_json(line)
    except UndecodableLineError as exc:
        raise BatchFileError(f"BATCH file {label} line {number}: {exc}") from None
    if not isinstance(record, dict):
        raise BatchFileError(
            f"BATCH file {label} line {number}: a record must be a JSON object, "
            f"not {_json_kind(record)}",
        )
    return record


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
