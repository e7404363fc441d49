"""Batches in flight: up to ``max_parallel_requests`` deliveries at once, in threads.

A submitted batch is sent in requests of at most ``batch_size`` events, each request's
per-event results are settled (delivered or dead-lettered), and only then is the batch
closed in the state gate, so STATE never passes an undelivered record however the
deliveries interleave. Submitting blocks while all slots are busy: memory holds at most
``max_parallel_requests`` batches, and the target stops reading input meanwhile.

The first failure of any delivery is kept and raised in the reading thread at the next
submit or at :meth:`Deliveries.wait`; the failed batch stays open in the gate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from target_pinterest_conversions.batch import PendingEvent, chunks
from target_pinterest_conversions.client import Sender
from target_pinterest_conversions.deadletter import DeadLetterWriter
from target_pinterest_conversions.outcome import settle
from target_pinterest_conversions.state import StateGate
from target_pinterest_conversions.summary import RunSummary

logger = logging.getLogger("target-pinterest-conversions.delivery")


class Deliveries:
    """Sends batches on a bounded pool of threads and reports failures to the caller."""

    def __init__(
        self,
        *,
        sender: Callable[[], Sender],
        gate: StateGate,
        dead_letters: DeadLetterWriter,
        summary: RunSummary,
        request_size: int,
        parallel: int,
        after_batch: Callable[[str, int, float], None],
    ) -> None:
        self._sender = sender
        self._gate = gate
        self._dead_letters = dead_letters
        self._summary = summary
        self._request_size = request_size
        self._after_batch = after_batch
        self._slots = threading.BoundedSemaphore(parallel)
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="deliver")
        self._futures: set[Future[None]] = set()
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call
        self._failure: BaseException | None = None

    def submit(self, stream: str, batch_id: str, items: Sequence[PendingEvent]) -> None:
        """Start delivering a batch; wait for a free slot first.

        Raises:
            BaseException: the first failure of an earlier delivery.

        """
        self.raise_failure()
        self._slots.acquire()
        try:
            self.raise_failure()
            future = self._pool.submit(self._deliver, stream, batch_id, items)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def wait(self) -> None:
        """Wait for every delivery in flight, then raise the first failure, if any."""
        while True:
            with self._lock:
                pending = list(self._futures)
            if not pending:
                break
            for future in pending:
                future.exception()
        self.raise_failure()

    def raise_failure(self) -> None:
        """Raise the first delivery failure, if there was one."""
        with self._lock:
            failure = self._failure
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Stop the threads once the deliveries in flight are done."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _deliver(self, stream: str, batch_id: str, items: Sequence[PendingEvent]) -> None:
        if self._failure is not None:
            return  # another batch failed: the run is stopping, send nothing new
        started = time.monotonic()
        sender = self._sender()
        for request in chunks(items, self._request_size):
            results = sender.send([item.event for item in request])
            settle(
                stream,
                request,
                results,
                self._dead_letters,
                self._summary,
                dry_run=sender.dry_run,
            )
        self._gate.close_batch(batch_id)
        self._after_batch(stream, len(items), time.monotonic() - started)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
            failure = future.exception() if not future.cancelled() else None
            if failure is not None and self._failure is None:
                self._failure = failure
        self._slots.release()
