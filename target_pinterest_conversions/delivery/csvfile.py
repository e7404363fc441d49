"""Ads Manager's offline-conversions CSV: files for upload instead of requests.

Each valid event becomes one row of the columns Pinterest's CSV specification names
(docs/pinterest-conversions-csv.md): the hashed ``email`` and ``madid`` exactly as the
API path hashes them, ``event_time`` in Unix seconds and ``event_type``. Rows are written
in the order records arrive, so what a STATE covers is always a prefix of the files.

Crash safety: the target cannot read STATE back, so a manifest beside the files
(``.<name>.manifest.json``) holds each file's committed length. It is replaced
atomically, after the rows are fsync'ed, right before each STATE goes out, and a new
file is entered in it (at length 0) before its first byte is written. On start, every
file the manifest lists is cut back to its committed length (a file with no committed
row is removed), so a run killed with ``kill -9`` and resumed from its last STATE
leaves every row exactly once.

Each run writes new files, ``<name>-<UTC time>-<part>.csv``, created exclusively: a
file from an earlier run, uploaded or not, is never overwritten or appended to.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from target_pinterest_conversions.context.files import check_writable, output_file_error

COLUMNS: tuple[str, ...] = ("email", "madid", "event_time", "event_type")
"""The columns written, spelled as Pinterest's specification spells them."""
EVENT_TYPES: Mapping[str, str] = {"checkout": "Checkout"}
"""API event name to the CSV's ``event_type``: the one value its specification shows."""
MAX_ROWS = 9_900_000
"""Rows per file: Pinterest takes fewer than 10 million; the margin covers the header."""
MAX_BYTES = 4_900_000_000
"""Bytes per file: under 5 GB whether Pinterest means 10^9 or 2^30 bytes."""
DEFAULT_NAME = "pinterest-conversions"
_HEADER = (",".join(COLUMNS) + "\n").encode()


def csv_row(event: Mapping[str, Any]) -> bytes:
    """One event as a CSV line: its first email hash, first mobile ad id hash, time, type.

    The event is a checked one (``output: csv`` rules): it has ``em`` or
    ``hashed_maids`` and a name in :data:`EVENT_TYPES`.
    """
    user_data = event["user_data"]
    emails = user_data.get("em") or ("",)
    maids = user_data.get("hashed_maids") or ("",)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        (emails[0], maids[0], str(event["event_time"]), EVENT_TYPES[event["event_name"]]),
    )
    return buffer.getvalue().encode()


def csv_location(path: str | Path) -> tuple[Path, str]:
    """The folder and the start of the files' names that ``csv_path`` asks for.

    A path ending in ``.csv`` names the folder and the name (``out/orders.csv`` gives
    ``out/orders-<time>-<part>.csv``); any other path is the folder.
    """
    target = Path(path)
    if target.suffix.lower() == ".csv":
        return target.parent, target.stem
    return target, DEFAULT_NAME


def csv_path_problem(path: str | Path) -> str | None:
    """Tell why the CSV files cannot be written under ``path``, or ``None``."""
    folder, _ = csv_location(path)
    if folder.exists():
        if not folder.is_dir():
            return f"csv_path: {path}: {folder} is a file, not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"csv_path: {path}: permission denied"
        return None
    return check_writable("csv_path", folder)


@dataclass
class _Part:
    """One file of this run: its name, what is written and what STATE covers."""

    name: str
    written: int = 0
    rows: int = 0
    committed: int = 0
    committed_rows: int = 0


def _fsync_folder(folder: Path) -> None:
    # A rename or a new file is durable only once its folder's entry is.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(manifest: Path) -> list[str]:
    """Cut each file the manifest lists back to its committed length; say what was cut.

    A file with no committed row is removed. Idempotent: a crash while recovering is
    recovered from by the next start.
    """
    try:
        data = json.loads(manifest.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise output_file_error(
            "csv_path", manifest, exc if isinstance(exc, OSError) else OSError(str(exc))
        ) from None
    notes = []
    for entry in data.get("files", []):
        path = manifest.parent / Path(str(entry["name"])).name
        committed = int(entry["bytes"])
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if committed == 0:
            path.unlink()
            notes.append(f"removed {path.name}: none of its rows was covered by a STATE")
        elif size > committed:
            with path.open("r+b") as file:
                file.truncate(committed)
                os.fsync(file.fileno())
            notes.append(
                f"cut {path.name} back to its last committed row ({size - committed} bytes "
                "of rows no STATE covered; the tap sends those records again)",
            )
    _fsync_folder(manifest.parent)
    return notes


class CsvWriter:
    """Writes rows to rolling CSV files and commits them, durably, when STATE goes out.

    Used by the reading thread only (rows are written as records are converted), so it
    takes no lock.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder, self.name = csv_location(path)
        self.manifest = self.folder / f".{self.name}.manifest.json"
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._clock = clock
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.recovered = recover(self.manifest)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder, exc) from None
        self._parts: list[_Part] = []
        self._file: IO[bytes] | None = None

    @property
    def files(self) -> list[Path]:
        """The files this run has written, oldest first."""
        return [self.folder / part.name for part in self._parts]

    @property
    def uncommitted_rows(self) -> int:
        """Rows written that no STATE covers yet: the next start cuts them."""
        return sum(part.rows - part.committed_rows for part in self._parts)

    def write(self, event: Mapping[str, Any]) -> None:
        """Append the event's row, in a new file when this one would pass a limit."""
        line = csv_row(event)
        part = self._parts[-1] if self._parts else None
        if part is None or part.rows >= self.max_rows or part.written + len(line) > self.max_bytes:
            part = self._roll()
        try:
            assert self._file is not None  # noqa: S101 - _roll opened it
            self._file.write(line)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder / part.name, exc) from None
        part.written += len(line)
        part.rows += 1

    def commit(self) -> None:
        """Make every row written durable, then record it as committed in the manifest.

        Called right before a STATE is written: the rows it covers reach the disk first.
        """
        if self._file is None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise output_file_error("csv_path", self.files[-1], exc) from None
        for part in self._parts:
            part.committed = part.written if part.rows else 0  # a lone header is no file
            part.committed_rows = part.rows
        self._write_manifest()

    def close(self) -> None:
        """Flush and close the current file; rows after the last commit stay uncommitted."""
        if self._file is None:
            return
        file, self._file = self._file, None
        with contextlib.suppress(OSError):
            file.flush()
            os.fsync(file.fileno())
        file.close()

    def _roll(self) -> _Part:
        """Close the current file and start the next, entered in the manifest first."""
        if self._file is not None:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as exc:
                raise output_file_error("csv_path", self.files[-1], exc) from None
            self._file.close()
            self._file = None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        number = len(self._parts) + 1
        while True:
            part = _Part(f"{self.name}-{stamp}-{number:04d}.csv")
            path = self.folder / part.name
            if not path.exists():
                break
            number += 1
        self._parts.append(part)
        # Entered at length 0 before it exists: a crash from here on removes it on start.
        self._write_manifest()
        try:
            self._file = path.open("xb")  # exclusive: never another run's file
            self._file.write(_HEADER)
        except OSError as exc:
            raise output_file_error("csv_path", path, exc) from None
        part.written = len(_HEADER)
        return part

    def _write_manifest(self) -> None:
        data = {
            "files": [
                {"name": part.name, "bytes": part.committed, "rows": part.committed_rows}
                for part in self._parts
            ],
        }
        temporary = self.manifest.with_name(self.manifest.name + ".tmp")
        try:
            with temporary.open("wb") as file:
                file.write(json.dumps(data, indent=1).encode() + b"\n")
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(self.manifest)
            _fsync_folder(self.folder)
        except OSError as exc:
            raise output_file_error("csv_path", self.manifest, exc) from None
