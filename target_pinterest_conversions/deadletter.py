"""The dead-letter output: one JSON line per record or event that was not delivered.

Each line holds the stream, the record's key, the reason, where it was rejected
(``target`` before sending, ``pinterest`` after) and the event as it would have been
sent, so with hashed personal data only. Lines are flushed as they are written: a STATE
message is emitted only after the dead-letter lines of the records before it are on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any

import orjson

from target_pinterest_conversions.files import is_regular, output_file_error


def _default(value: object) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


class DeadLetterWriter:
    """Appends dead-letter lines to a JSON-lines file; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call
        self._file: Any = None
        self.count = 0

    def write(
        self,
        *,
        stream: str,
        key: dict[str, Any],
        reason: str,
        stage: str,
        event: dict[str, Any] | None,
    ) -> None:
        """Append one line and flush it."""
        line = orjson.dumps(
            {
                "stream": stream,
                "key": key,
                "reason": reason,
                "stage": stage,
                "event": event,
                "rejected_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            },
            default=_default,
            option=orjson.OPT_NON_STR_KEYS,
        )
        with self._lock:
            try:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("ab")
                self._file.write(line + b"\n")
                self._file.flush()
            except OSError as exc:
                raise output_file_error("dead_letter_path", self.path, exc) from None
            self.count += 1

    def sync(self) -> None:
        """Force written lines to disk before a STATE message acknowledges them.

        A pipe or a terminal has no disk to reach: its lines are flushed as written.
        """
        with self._lock:
            if self._file is not None and is_regular(self._file.fileno()):
                os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file, if it was opened.

        A failure here was already reported by the write that met it (the run is
        stopping on it), so it is not raised a second time.
        """
        with self._lock:
            if self._file is not None:
                file, self._file = self._file, None
                with contextlib.suppress(OSError):
                    file.close()
