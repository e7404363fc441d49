"""Records of BATCH message files, streamed one line at a time.

A BATCH message lists files of raw records, one JSON object a line (what the SDK's taps
write with ``batch_config``). Each line is decoded as a RECORD message's record is, so
the records reach the mapping in the same types. Errors name the file (its URL without
credentials or query) and the line number, never what the line holds.

The files' URLs come from the input, so only local files and the object stores whose
fsspec package is installed are opened: fsspec also speaks HTTP, FTP, WebHDFS and more,
which would let a manifest make the target call any host it can reach. No line is held
past a bound, so a small gzip file of one huge line cannot exhaust memory.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

from target_pinterest_conversions.errors import InputError
from target_pinterest_conversions.reader import UndecodableLineError, decode_json

GZIP_MAGIC = b"\x1f\x8b"
READ_BUFFER_BYTES = 1 << 20
DEFAULT_MAX_LINE_BYTES = 64 << 20
"""The default of ``batch_max_line_bytes``: the longest line a BATCH file may have."""
STORAGE_PACKAGES: dict[str, str] = {
    "s3": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}
"""The URL schemes read through fsspec besides ``file``, each once its package is installed."""
LABEL_CHARS = 300
SUPPORTED = 'jsonl files, gzip-compressed or not ({"format": "jsonl", "compression": "gzip"})'


class BatchFileError(InputError):
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
    """The file's URL as it may be logged: without user, password, query or fragment.

    Control characters are escaped and a long URL is cut, so a manifest cannot forge
    log lines or flood them.
    """
    parts = urlsplit(url)
    if len(parts.scheme) > 1:  # else a plain path (or a Windows drive letter)
        host = parts.netloc.rpartition("@")[2]  # not .hostname/.port: a bad port raises
        url = urlunsplit((parts.scheme, host, parts.path, "", ""))
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in url[: LABEL_CHARS + 1])
    return text if len(text) <= LABEL_CHARS else f"{text[:LABEL_CHARS]}..."


@functools.cache
def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def allowed_schemes() -> list[str]:
    """The URL schemes BATCH files may have: ``file`` and each installed object store's."""
    return ["file", *(s for s, package in STORAGE_PACKAGES.items() if _installed(package))]


def _check_scheme(location: str) -> None:
    """Refuse a URL this target must not open: not local, nor an installed object store.

    Raises:
        BatchFileError: the scheme is not allowed, or a ``file://`` URL names a host.

    """
    parts = urlsplit(location)
    scheme = parts.scheme
    if len(scheme) <= 1:
        return
    label = file_label(location)
    if scheme == "file":
        if parts.netloc.rpartition("@")[2] not in ("", "localhost"):
            raise BatchFileError(
                f"BATCH file {label}: a file:// URL must name a file on this machine "
                "(file:///path)",
            )
        return
    allowed = allowed_schemes()
    # fsspec chains URLs with '::' (simplecache::ftp://...): another scheme inside.
    if scheme in allowed and "::" not in location:
        return
    listed = f"allowed: a local path, {', '.join(allowed)}"
    if scheme in STORAGE_PACKAGES and scheme not in allowed:
        package = STORAGE_PACKAGES[scheme]
        raise BatchFileError(
            f"BATCH file {label}: the URL scheme '{scheme}' is not allowed until its package "
            f"{package} is installed beside the target (pip install {package}); {listed}",
        )
    others = "s3 (s3fs), gs and gcs (gcsfs), az, abfs and abfss (adlfs)"
    problem = "chained URLs (::) are" if scheme in allowed else f"the URL scheme '{scheme[:40]}' is"
    raise BatchFileError(
        f"BATCH file {label}: {problem} not allowed; {listed} "
        f"(and {others} once that package is installed)",
    )


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
    if isinstance(exc, ValueError) and "null" in str(exc):  # os functions' own words
        return "not a valid file name (it holds a NUL character)"
    return f"cannot be opened ({type(exc).__name__})"


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
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield each record of a BATCH file with its line number, reading line by line.

    Memory holds one line at a time, whatever the file's size, and never much more than
    ``max_line_bytes`` of it (its newline not counted). A file declared uncompressed but
    starting as gzip is read as gzip: the SDK's taps gzip their files whatever their
    ``compression`` says. Blank lines are skipped.

    Raises:
        BatchFileError: the URL's scheme is not allowed, the file cannot be opened or
            read, or a line is too long or not a JSON object; the message names the
            file and the line, never the line's content.

    """
    label = file_label(url)
    location = _location(url, storage_root)
    _check_scheme(location)
    number = 0
    try:
        with _open(location) as raw:
            gzipped = compression == "gzip" or _starts_with_gzip(raw)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
            # read1 returns what one step decoded: a corrupt stream's error then comes
            # after every whole line before it, so it names the line it is in.
            read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
            for number, line in enumerate(_bounded_lines(read, max_line_bytes), start=1):
                if line is None:
                    _refuse_long_line(label, number, max_line_bytes)
                if line and not line.isspace():
                    yield number, _record(line, label, number)
    except BatchFileError:
        raise
    except (EOFError, zlib.error) as exc:
        problem = _read_problem(exc)
        raise BatchFileError(f"BATCH file {label} line {number + 1}: {problem}") from None
    except MemoryError:
        raise  # not the file's fault: an unexpected error, exit 1
    except Exception as exc:
        # Only the reading runs in here (records are processed where they are yielded
        # to), so whatever fails is the file's: a one-line error, never a traceback.
        if number == 0 and not isinstance(exc, gzip.BadGzipFile):
            raise BatchFileError(f"BATCH file {label}: {_open_problem(exc)}") from None
        problem = _read_problem(exc)
        raise BatchFileError(f"BATCH file {label} line {number + 1}: {problem}") from None


def _bounded_lines(
    read: Callable[[int], bytes], max_line_bytes: int
) -> Iterator[bytes | bytearray | None]:
    """Yield each line without its newline, or ``None`` for one past ``max_line_bytes``.

    Read in chunks and split here, not with readline: fsspec's files take no size for
    it, and a line past the bound is never held whole, nor copied once complete. A line
    yielded as a bytearray is reused afterwards: decode it before the next.
    """
    pending = bytearray()
    while chunk := read(READ_BUFFER_BYTES):
        lines = chunk.split(b"\n")
        last = lines.pop()
        for line in lines:
            if not pending:
                yield line if len(line) <= max_line_bytes else None
                continue
            if len(pending) + len(line) > max_line_bytes:
                yield None
                return
            pending += line
            yield pending
            pending.clear()
        if len(pending) + len(last) > max_line_bytes:
            yield None
            return
        pending += last
    if pending:
        yield pending


def _refuse_long_line(label: str, number: int, max_line_bytes: int) -> NoReturn:
    raise BatchFileError(
        f"BATCH file {label} line {number}: the line is longer than batch_max_line_bytes "
        f"({max_line_bytes} bytes); raise that setting if the tap's records are that large",
    )


def _record(line: bytes | bytearray, label: str, number: int) -> dict[str, Any]:
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
