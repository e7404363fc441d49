"""Batches in flight: up to ``max_parallel_requests`` deliveries at once, in threads.

A submitted batch is sent, account by account, in requests of at most ``batch_size``
events to one ad account each; each request's per-event results are settled (delivered
or dead-lettered), and only once every account's part is settled is the batch closed in
the run's one state gate, whatever the accounts, so STATE never passes an undelivered
record however the deliveries interleave.

Submitting blocks (and the target stops reading input) while all slots are busy, and
also while the oldest unsettled batch is ``max_parallel_requests`` batches behind: a
batch that keeps retrying holds the others back, so after a crash a resumed run re-sends
at most ``max_parallel_requests`` + 1 batches. Every wait of the reading thread calls a
``checkpoint`` often, so a termination signal is acted on at once.

The first failure of any delivery is kept and raised in the reading thread at the next
submit or at :meth:`Deliveries.wait`; the failed batch stays open in the gate. An ad
account Pinterest refuses once the token is known good is no failure: its events are
dead-lettered and the batch is settled (:mod:`.refusals`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from target_pinterest_conversions.context.summary import RunSummary
from target_pinterest_conversions.delivery.batch import (
    AccountBatches,
    PendingEvent,
    chunks,
    events_of,
)
from target_pinterest_conversions.delivery.client import AccountRefused, EventResult, Sender
from target_pinterest_conversions.delivery.deadletter import DeadLetterWriter
from target_pinterest_conversions.delivery.outcome import settle as pinterest_verdicts
from target_pinterest_conversions.delivery.refusals import AccountRefusals, TokenProbe
from target_pinterest_conversions.delivery.state import StateGate

logger = logging.getLogger("target-pinterest-conversions.delivery")

Settle = Callable[
    [str, str, Sequence[PendingEvent], Sequence[EventResult], DeadLetterWriter, RunSummary],
    int,
]
"""Records one request's results (:func:`.outcome.settle` for Pinterest's verdicts)."""

_POLL_SECONDS = 0.2
"""How often a waiting reading thread looks for a termination signal."""


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
        checkpoint: Callable[[], None] = lambda: None,
        known_accounts: Sequence[str] = (),
        probe: TokenProbe | None = None,
        settle: Settle = pinterest_verdicts,
    ) -> None:
        self._sender = sender
        self._settle = settle
        self.refusals = AccountRefusals(
            dead_letters=dead_letters,
            summary=summary,
            known_accounts=known_accounts,
            probe=probe,
        )
        """Refused ad accounts; ``probe`` proves the token on other accounts (``--check``'s)."""
        self._gate = gate
        self._dead_letters = dead_letters
        self._summary = summary
        self._request_size = request_size
        self._after_batch = after_batch
        self._checkpoint = checkpoint
        self._window = parallel
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="deliver")
        self._futures: set[Future[None]] = set()
        self._changed = threading.Condition(threading.Lock())
        self._unsettled: set[int] = set()  # ordinals of batches submitted, not yet settled
        self._next_ordinal = 0
        self._failure: BaseException | None = None

    def submit(self, stream: str, batch_id: str, items: AccountBatches) -> None:
        """Start delivering a batch (events by ad account) once a slot and the window allow.

        Raises:
            BaseException: the first failure of an earlier delivery, or what the
                checkpoint raises (a termination signal) while waiting.

        """
        ordinal = self._next_ordinal
        self._next_ordinal += 1
        with self._changed:
            while True:
                self._raise_failure()
                oldest = min(self._unsettled, default=ordinal)
                if len(self._unsettled) < self._window and ordinal - oldest <= self._window:
                    break
                self._changed.wait(_POLL_SECONDS)
                self._changed.release()
                try:
                    self._checkpoint()
                finally:
                    self._changed.acquire()
            self._unsettled.add(ordinal)
            self.refusals.saw(items)
            future = self._pool.submit(self._deliver, stream, batch_id, items)
            self._futures.add(future)
        future.add_done_callback(lambda done: self._done(done, ordinal))

    def wait(self) -> None:
        """Wait for every delivery in flight, then raise the first failure, if any."""
        while not self.wait_for(_POLL_SECONDS):
            self._checkpoint()
        self.raise_failure()

    def wait_for(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every delivery in flight; tell whether all are done."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._futures, seconds)

    @property
    def in_flight(self) -> int:
        """Batches submitted and not yet finished."""
        with self._changed:
            return len(self._futures)

    def raise_failure(self) -> None:
        """Raise the first delivery failure, if there was one."""
        with self._changed:
            self._raise_failure()

    def failure(self) -> BaseException | None:
        """The first delivery failure, if any."""
        with self._changed:
            return self._failure

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        """Stop the threads once the deliveries in flight are done."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _deliver(self, stream: str, batch_id: str, items: AccountBatches) -> None:
        if self._failure is not None:
            return  # another batch failed: the run is stopping, send nothing new
        started = time.monotonic()
        sender = self._sender()
        for account, events in items.items():
            self._deliver_account(sender, stream, account, events)
        self._gate.close_batch(batch_id)
        count = sum(len(events) for events in items.values())
        self._after_batch(stream, count, time.monotonic() - started)

    def _deliver_account(
        self,
        sender: Sender,
        stream: str,
        account: str,
        events: Sequence[PendingEvent],
    ) -> None:
        """Send one account's events of a batch; dead-letter them if it is refused."""
        refused = self.refusals.reason(account)
        if refused is not None:
            self.refusals.dead_letter(stream, account, events, refused, sent=False)
            return
        done = 0
        for request in chunks(events, self._request_size):
            try:
                results = sender.send(events_of(request), account)
            except AccountRefused as exc:
                reason = self.refusals.refuse(exc)  # raises while the token is not known good
                self.refusals.dead_letter(stream, account, request, reason, sent=True)
                rest = events[done + len(request) :]
                self.refusals.dead_letter(stream, account, rest, reason, sent=False)
                return
            self._settle(stream, account, request, results, self._dead_letters, self._summary)
            done += len(request)

    def _done(self, future: Future[None], ordinal: int) -> None:
        with self._changed:
            self._futures.discard(future)
            failure = future.exception() if not future.cancelled() else None
            if failure is None:
                self._unsettled.discard(ordinal)  # a failed batch stays unsettled
            elif self._failure is None:
                self._failure = failure
            self._changed.notify_all()
