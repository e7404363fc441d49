"""The dead-letter output: one JSON line per record or event that was not delivered.

Each line holds the stream, the ad account it goes to (``null`` when the record does not
say), the record's key, the reason, where it was rejected
(``target`` before sending, ``pinterest`` after) and the event as it would have been
sent, so with hashed personal data only. Lines are flushed as they are written: a STATE
message is emitted only after the dead-letter lines of the records before it are on disk.

The key never holds raw personal data (:func:`safe_key`), and the reason is scrubbed of
the token and personal data once more (Pinterest's messages already are, by the client).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from target_pinterest_conversions.context.files import (
    is_regular,
    open_for_append,
    output_file_error,
)
from target_pinterest_conversions.context.redaction import scrub

_DIGEST = re.compile(r"[0-9a-f]{64}")
_PHONE = re.compile(r"\+\d[\d\s().-]{5,}\d|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}")
"""A number written as a phone number: with ``+``, or as ``(415) 555-0199``."""
_HAS_DIGIT = re.compile(r"\d")


def hashed(value: object) -> str:
    """The SHA-256 hex of a value's text: a string as it is, a number as its digits."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    # surrogatepass: the same bytes for valid text, and a digest for the rest.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _is_identifier(value: object) -> bool:
    """Tell whether a key value is a machine identifier that can be written as it is.

    Numbers (database and API ids, also written as digits), and one word of text with a
    digit in it that is not an email address or a number written as a phone number
    (``gid://shopify/Order/5008``, ``ORD-1001``, a UUID): what a key property holds when
    it is an id. Text without a digit (a name), with spaces (a name, an address), an
    email address or a phone number (``+1 415 555 0199``, ``415-555-0199``) is not.
    """
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float, Decimal)):
        return True
    if not isinstance(value, str):
        return False
    return (
        _HAS_DIGIT.search(value) is not None
        and not any(c.isspace() for c in value)
        and "@" not in value  # an email address, or a handle
        and _PHONE.fullmatch(value) is None
    )


def safe_key(key: dict[str, Any]) -> dict[str, Any]:
    """Return the key as the dead-letter file may hold it: never raw personal data.

    Identifiers stay readable, so the source record can be found; a SHA-256 digest (a
    key property the mapping hashes, or a pre-hashed value) stays as it is; any other
    value is replaced by the SHA-256 hex of its text, and an object or list keeps its
    shape with every value in it hashed (``customer.email`` and ``customer.name`` each
    become a digest), so that no value in it is readable.
    """
    return {name: _safe(value, top=True) for name, value in key.items()}


def _safe(value: object, *, top: bool) -> object:
    if isinstance(value, str) and _DIGEST.fullmatch(value):
        return value
    if isinstance(value, dict):
        return {str(k): _safe(v, top=False) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v, top=False) for v in value]
    if value is None or isinstance(value, bool):
        return value
    # Inside an object every value is hashed: an object key (a customer) is a person's
    # data more often than an id, and one readable field would defeat the others.
    if top and _is_identifier(value):
        return value
    return hashed(value)


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
        ad_account_id: str | None,
        key: dict[str, Any],
        reason: str,
        stage: str,
        event: dict[str, Any] | None,
    ) -> None:
        """Append one line and flush it; the key is written as :func:`safe_key` gives it."""
        line = orjson.dumps(
            {
                "stream": stream,
                "ad_account_id": ad_account_id,
                "key": safe_key(key),
                "reason": scrub(reason),
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
                    self._file = open_for_append(self.path)
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
