"""Ads Manager's offline-conversions CSV: files for upload instead of requests.

Each valid event becomes one row of the columns Pinterest's CSV specification names
(docs/pinterest-conversions-csv.md): the hashed ``email`` and ``madid`` exactly as the
API path hashes them, ``event_time`` in Unix seconds and ``event_type``. Rows are written
in the order records arrive, so what a STATE covers is always a prefix of the files.

One run at a time: a run holds an exclusive lock on ``.target-pinterest-conversions.lock``
in the folder for as long as it lives; a second run on the same folder is refused.

Exactly once across crashes. The target cannot read STATE back, so a manifest beside the
files (``.<name>.manifest.json``) records, for each file, two lengths: *confirmed* (a
STATE that covers it went out) and *pending* (the rows of the STATE being written now),
with both STATE values. A commit fsyncs the rows, renames the new manifest into place and
the caller writes the STATE line right after; only then is *pending* confirmed. A run
killed between the rename and the STATE line leaves an interval of rows that the tap may
or may not send again, depending on whether the STATE line got out. The next run settles
it from what it receives first: a STATE equal to the pending one (the tap resumes after
those rows: kept), equal to the confirmed one (the tap sends them again: cut), else its
first row (equal to the interval's first row: cut, else kept). Rows past *pending* were
never covered and are cut on start.

At the end of a run, rows that no STATE covers are cut by the run itself and it says so
(the tap sends their records again from its last STATE); an input with no STATE at all is
committed whole at its end. A file announced as written is never changed afterwards.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from target_pinterest_conversions.context.files import check_writable, output_file_error
from target_pinterest_conversions.errors import ConfigError

COLUMNS: tuple[str, ...] = ("email", "madid", "event_time", "event_type")
"""The columns written, spelled as Pinterest's specification spells them."""
EVENT_TYPES: Mapping[str, str] = {"checkout": "Checkout"}
"""API event name to the CSV's ``event_type``: the one value its specification shows."""
MAX_ROWS = 9_900_000
"""Rows per file: Pinterest takes fewer than 10 million; the margin covers the header."""
MAX_BYTES = 4_900_000_000
"""Bytes per file: under 5 GB whether Pinterest means 10^9 or 2^30 bytes."""
DEFAULT_NAME = "pinterest-conversions"
LOCK_NAME = ".target-pinterest-conversions.lock"
"""The lock file a run holds in the folder (it names the run's process id)."""
UPLOAD_WINDOW_SECONDS = 30 * 24 * 3600
"""Pinterest takes a row in an upload up to 30 days after the conversion."""
_HEADER = (",".join(COLUMNS) + "\n").encode()
Position = tuple[int, int, int]
"""Where the rows written so far end: files, and the last one's bytes and rows."""
_MANIFEST_VERSION = 2
# O_NOFOLLOW: a symbolic link planted in the folder is never followed to another file.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


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


def same_state(line: str | None, other: str | None) -> bool:
    """Tell whether two encoded STATE values are the same value (key order aside)."""
    if line is None or other is None:
        return False
    return bool(json.loads(line, parse_float=Decimal) == json.loads(other, parse_float=Decimal))


@dataclass
class _Part:
    """One file: its name, what is written, what a STATE covers and what one is about to."""

    name: str
    written: int = 0
    rows: int = 0
    committed: int = 0
    committed_rows: int = 0
    pending: int = 0
    pending_rows: int = 0


def _fsync_folder(folder: Path) -> None:
    # A rename or a new file is durable only once its folder's entry is.
    fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cut(path: Path, length: int) -> None:
    """Cut ``path`` to ``length`` bytes; a file with no covered row (0) is removed."""
    if length == 0:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, length)
        os.fsync(fd)
    finally:
        os.close(fd)


def _first_row(path: Path, offset: int) -> bytes:
    """The row that starts at ``offset`` of ``path`` (after the header when at 0)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        file.seek(max(offset, len(_HEADER)))
        return file.readline(1 << 20)


class _Unsettled:
    """The interval of rows a killed run committed without knowing its STATE got out."""

    def __init__(
        self,
        parts: list[_Part],
        state: str | None,
        confirmed_state: str | None,
        first_row: bytes,
    ) -> None:
        self.parts = parts
        self.state = state
        """The STATE the interval's rows were committed for (it may not have gone out)."""
        self.confirmed_state = confirmed_state
        """The STATE before them, which did go out."""
        self.first_row = first_row
        self.rows = sum(p.pending_rows - p.committed_rows for p in parts)


class CsvWriter:
    """Writes rows to rolling CSV files and commits them, durably, when STATE goes out.

    Used by the reading thread only (rows are written as records are converted), so it
    takes no lock of its own; the folder's lock keeps other runs out.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.time,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.folder, self.name = csv_location(path)
        self._on_note = note
        self.manifest = self.folder / f".{self.name}.manifest.json"
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._clock = clock
        self._parts: list[_Part] = []
        self._file: IO[bytes] | None = None
        self._lock_fd: int | None = None
        self._state: str | None = None
        """The last STATE the files are committed to."""
        self._pending_state: str | None = None
        self._states_seen = False
        self._manifest_pending = False
        """A commit's manifest is in place and its STATE line not yet confirmed."""
        self.notes: list[str] = []
        """What the start or the end did to files of an earlier run or rows of this one."""
        self.oldest_event_time: int | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder, exc) from None
        self._lock()
        self._unsettled = self._recover()

    def _note(self, text: str) -> None:
        self.notes.append(text)
        if self._on_note is not None:
            self._on_note(text)

    @property
    def recovered(self) -> list[str]:
        """What the start did to an earlier run's files (kept for callers and tests)."""
        return list(self.notes)

    @property
    def files(self) -> list[Path]:
        """The files this run has written, oldest first."""
        return [self.folder / part.name for part in self._parts]

    @property
    def uncommitted_rows(self) -> int:
        """Rows written that no STATE covers yet."""
        return sum(part.rows - part.committed_rows for part in self._parts)

    @property
    def unsettled_rows(self) -> int:
        """Rows of a killed run whose fate this run has not settled yet."""
        return self._unsettled.rows if self._unsettled else 0

    # --- the lock -----------------------------------------------------------------------

    def _lock(self) -> None:
        path = self.folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise output_file_error("csv_path", path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise ConfigError(
                f"csv_path: {self.folder} is in use by another run of the target ({who}); "
                "two runs on one folder would cut each other's files: wait for it to "
                "finish, or give each run its own csv_path",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the lock; the file stays for the next run

    # --- start: the earlier run's files -------------------------------------------------

    def _recover(self) -> _Unsettled | None:
        """Cut rows no STATE was about to cover; keep aside what may or may not have been."""
        try:
            data = json.loads(self.manifest.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise output_file_error(
                "csv_path", self.manifest, exc if isinstance(exc, OSError) else OSError(str(exc))
            ) from None
        parts = []
        for entry in data.get("files", []):
            committed = int(entry["bytes"])
            parts.append(
                _Part(
                    Path(str(entry["name"])).name,
                    committed=committed,
                    committed_rows=int(entry.get("rows", 0)),
                    # A version 1 manifest recorded only lengths a STATE went out for.
                    pending=int(entry.get("pending_bytes", committed)),
                    pending_rows=int(entry.get("pending_rows", entry.get("rows", 0))),
                ),
            )
        try:
            for part in parts:
                path = self.folder / part.name
                try:
                    size = os.lstat(path).st_size
                except FileNotFoundError:
                    continue
                if part.pending == 0:
                    _cut(path, 0)
                    self._note(
                        f"removed {part.name}: none of its rows was covered by a STATE",
                    )
                elif size > part.pending:
                    _cut(path, part.pending)
                    self._note(
                        f"cut {part.name} back to its last committed row ({size - part.pending}"
                        " bytes of rows no STATE covered; the tap sends those records again)",
                    )
            _fsync_folder(self.folder)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder, exc) from None
        open_parts = [p for p in parts if p.pending > p.committed]
        if not open_parts:
            return None
        first = open_parts[0]
        try:
            first_row = _first_row(self.folder / first.name, first.committed)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder / first.name, exc) from None
        return _Unsettled(parts, data.get("state"), data.get("confirmed_state"), first_row)

    def _settle(self, *, keep: bool, why: str) -> None:
        """Keep or cut a killed run's unsettled rows, and record that in its manifest."""
        unsettled, self._unsettled = self._unsettled, None
        if unsettled is None:
            return
        try:
            for part in unsettled.parts:
                if part.pending == part.committed:
                    continue
                if keep:
                    part.committed, part.committed_rows = part.pending, part.pending_rows
                else:
                    _cut(self.folder / part.name, part.committed)
                    part.pending, part.pending_rows = part.committed, part.committed_rows
            state = unsettled.state if keep else unsettled.confirmed_state
            self._write_manifest_of(unsettled.parts, state, state)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder, exc) from None
        files = ", ".join(p.name for p in unsettled.parts if p.pending > 0) or "none"
        if keep:
            self._note(
                f"kept the last {unsettled.rows} rows of the interrupted run ({files}): {why}",
            )
        else:
            self._note(
                f"cut the last {unsettled.rows} rows of the interrupted run: {why}; they "
                "are written again from the records the tap sends",
            )

    # --- writing ------------------------------------------------------------------------

    def write(self, event: Mapping[str, Any]) -> None:
        """Append the event's row, in a new file when this one would pass a limit."""
        line = csv_row(event)
        if self._unsettled is not None:
            # The same records make the same rows: a tap that resumed before the
            # interval sends its first row again first.
            if line == self._unsettled.first_row:
                self._settle(keep=False, why="the tap sends their records again")
            else:
                self._settle(keep=True, why="the tap resumed after them")
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
        event_time = int(event["event_time"])
        if self.oldest_event_time is None or event_time < self.oldest_event_time:
            self.oldest_event_time = event_time

    def position(self) -> Position:
        """Where the rows written so far end (for :meth:`commit`'s ``upto``)."""
        if not self._parts:
            return (0, 0, 0)
        last = self._parts[-1]
        return (len(self._parts), last.written, last.rows)

    def commit(self, state: str | None = None, upto: Position | None = None) -> None:
        """Make the rows written up to ``upto`` durable; record them in the manifest as pending.

        Called right before the STATE ``state`` (its JSON) is written; :meth:`emitted`
        is called right after it. ``upto`` (a :meth:`position`, every row by default)
        ends the rows that STATE covers: rows written after it wait for a later one. A
        killed run's unsettled rows are settled here when the STATE tells where the tap
        resumed.
        """
        count, written, rows = upto if upto is not None else self.position()
        self._states_seen = True
        if self._unsettled is not None and not self._parts and state is not None:
            if same_state(state, self._unsettled.state):
                self._settle(keep=True, why="the tap resumed from the STATE that covers them")
            elif same_state(state, self._unsettled.confirmed_state):
                self._settle(keep=False, why="the tap resumed from the STATE before them")
        covered = [
            (part.written, part.rows) if number < count else (0, 0)
            for number, part in enumerate(self._parts, 1)
        ]
        if count:
            covered[count - 1] = (written, rows)
        # A lone header is no file.
        covered = [(length if n else 0, n) for length, n in covered]
        if all(
            part.committed == length for part, (length, _) in zip(self._parts, covered, strict=True)
        ):
            # No row since the last commit: nothing to make durable or to record.
            self._pending_state = state
            return
        self._sync()
        for part, (length, n) in zip(self._parts, covered, strict=True):
            part.pending, part.pending_rows = length, n
        self._pending_state = state
        self._write_manifest(fsync_folder=False)
        self._manifest_pending = True

    def emitted(self) -> None:
        """The STATE of the last commit went out: its rows are confirmed."""
        if self._pending_state is not None:
            self._state = self._pending_state
        if not self._manifest_pending:
            return
        self._manifest_pending = False
        for part in self._parts:
            part.committed, part.committed_rows = part.pending, part.pending_rows
        try:
            _fsync_folder(self.folder)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder, exc) from None

    def close(self, *, finished: bool) -> int:
        """Close the files; cut the rows no STATE covers; return how many were cut.

        ``finished``: the input was read to its end. Then an input that held no STATE
        at all is committed whole (there is no STATE a tap could resume from), and a
        killed run's rows that nothing was sent again for are kept.
        """
        file, self._file = self._file, None
        cut = 0
        try:
            if file is not None:
                with contextlib.suppress(OSError):
                    file.flush()
                    os.fsync(file.fileno())
                file.close()
            if finished and self._unsettled is not None:
                self._settle(keep=True, why="the tap sent nothing again")
            if self._parts:
                if finished and not self._states_seen:
                    for part in self._parts:
                        part.committed = part.pending = part.written if part.rows else 0
                        part.committed_rows = part.pending_rows = part.rows
                else:
                    cut = self._cut_uncommitted()
                self._write_manifest(fsync_folder=True)
        except OSError as exc:
            raise output_file_error("csv_path", self.folder, exc) from None
        finally:
            self._unlock()
        return cut

    def _cut_uncommitted(self) -> int:
        cut = 0
        for part in self._parts:
            rows = part.rows - part.committed_rows
            if rows == 0 and part.committed:
                continue
            _cut(self.folder / part.name, part.committed)
            cut += rows
            part.written = part.pending = part.committed
            part.rows = part.pending_rows = part.committed_rows
        self._parts = [part for part in self._parts if part.committed]
        return cut

    def _sync(self) -> None:
        """Make the rows written to the current file durable."""
        if self._file is None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise output_file_error("csv_path", self.files[-1], exc) from None

    def _roll(self) -> _Part:
        """Close the current file and start the next, entered in the manifest first."""
        if self._file is not None:
            self._sync()
            self._file.close()
            self._file = None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        number = len(self._parts) + 1
        while True:
            part = _Part(f"{self.name}-{stamp}-{number:04d}.csv")
            path = self.folder / part.name
            if not os.path.lexists(path):
                break
            number += 1
        self._parts.append(part)
        # Entered at length 0 before it exists: a crash from here on removes it on start.
        self._write_manifest(fsync_folder=True)
        try:
            self._file = os.fdopen(os.open(path, _CREATE, 0o644), "wb")
            self._file.write(_HEADER)
        except OSError as exc:
            raise output_file_error("csv_path", path, exc) from None
        part.written = len(_HEADER)
        return part

    def _write_manifest(self, *, fsync_folder: bool) -> None:
        try:
            self._write_manifest_of(
                self._parts, self._pending_state or self._state, self._state, fsync_folder
            )
        except OSError as exc:
            raise output_file_error("csv_path", self.manifest, exc) from None

    def _write_manifest_of(
        self,
        parts: list[_Part],
        state: str | None,
        confirmed_state: str | None,
        fsync_folder: bool = True,
    ) -> None:
        data = {
            "version": _MANIFEST_VERSION,
            "files": [
                {
                    "name": part.name,
                    "bytes": part.committed,
                    "rows": part.committed_rows,
                    "pending_bytes": part.pending,
                    "pending_rows": part.pending_rows,
                }
                for part in parts
            ],
            "state": state,
            "confirmed_state": confirmed_state,
        }
        # A name of its own, created exclusively: never another run's file, never a link.
        temporary = self.manifest.with_name(
            f"{self.manifest.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        )
        fd = os.open(temporary, _CREATE, 0o644)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(json.dumps(data, indent=1).encode() + b"\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.manifest)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        if fsync_folder:
            _fsync_folder(self.folder)
