"""Delivery-gated Singer STATE.

A STATE is emitted only once every record before it is delivered or dead-lettered.

Each record gets a sequence number as it arrives. A STATE message is remembered with a
watermark, the number of records received before it. Each batch of events is *open*
from its first record until its send has finished. A remembered STATE can be emitted
when no open batch started before its watermark; the newest such STATE is written and
the older ones are dropped. :meth:`StateGate.release` is called after each delivered
batch, so STATE follows delivery closely instead of waiting for the end of input.

While a batch is held back (e.g. retrying), the STATE messages that arrive behind it are
collapsed as they come: of two held STATEs with no open batch starting between them, the
older one can never be the newest emittable one, so only the later one is kept. Held
STATE is thus bounded by the open batches, not by the length of the input.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import IO, Any

import simplejson


def encode_state(state: Any) -> str:
    """Encode a STATE value as one JSON line, keeping the reader's Decimals exact."""
    text: str = simplejson.dumps(state, use_decimal=True, separators=(",", ":"), default=str)
    return text + "\n"


class StateGate:
    """Holds STATE messages back until the records before them are resolved."""

    def __init__(
        self,
        out: IO[str] | None = None,
        before_emit: Callable[[str, int], None] | None = None,
        after_emit: Callable[[], None] | None = None,
        on_offer: Callable[[int], None] | None = None,
    ) -> None:
        self._out = out
        self._on_offer = on_offer
        self._before_emit = before_emit
        self._after_emit = after_emit
        self._lock = threading.RLock()
        self._seq = 0
        self._pending: deque[tuple[int, Any]] = deque()
        self._open: dict[str, int] = {}
        self._last_written: str | None = None
        self.emitted = 0

    def next_seq(self) -> int:
        """Number the next record; called once per record received, in order.

        Only the reading thread numbers records and offers STATE (the two uses of the
        counter), so numbering takes no lock: it runs for every record.
        """
        self._seq += 1
        return self._seq

    def open_batch(self, batch_id: str, first_seq: int) -> None:
        """Mark a batch as holding undelivered events from record ``first_seq`` on."""
        with self._lock:
            self._open.setdefault(batch_id, first_seq)

    def close_batch(self, batch_id: str) -> None:
        """Mark a batch as resolved (delivered or dead-lettered) and emit what is safe."""
        with self._lock:
            self._open.pop(batch_id, None)
            self.release()

    def offer(self, state: Any) -> None:
        """Remember a STATE received after every record numbered so far; emit if safe."""
        with self._lock:
            watermark = self._seq
            if self._on_offer is not None:
                self._on_offer(watermark)
            while self._pending and not self._opened_between(self._pending[-1][0], watermark):
                self._pending.pop()  # superseded: emittable exactly when the new one is
            self._pending.append((watermark, state))
            self.release()

    @property
    def held(self) -> int:
        """STATE messages held back, waiting for their records' delivery."""
        with self._lock:
            return len(self._pending)

    def _opened_between(self, after: int, upto: int) -> bool:
        """Tell whether an open batch starts at a record in ``(after, upto]``."""
        return any(after < first <= upto for first in self._open.values())

    def release(self) -> None:
        """Emit the newest STATE whose records are all resolved, if any."""
        with self._lock:
            oldest_open = min(self._open.values(), default=None)
            ready = None
            while self._pending and (oldest_open is None or self._pending[0][0] < oldest_open):
                ready = self._pending.popleft()
            if ready is not None:
                self._write(*ready)

    def _write(self, watermark: int, state: Any) -> None:
        line = encode_state(state)
        if line == self._last_written:
            return
        # Between the two hooks only the line is written and flushed: what the STATE
        # covers (the records numbered up to ``watermark``) is made durable before it,
        # and the window a crash can fall in is small.
        if self._before_emit is not None:
            self._before_emit(line.rstrip("\n"), watermark)
        out = self._out or sys.stdout
        out.write(line)
        out.flush()
        self._last_written = line
        self.emitted += 1
        if self._after_emit is not None:
            self._after_emit()
