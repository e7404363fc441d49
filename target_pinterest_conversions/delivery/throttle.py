"""Pacing of requests: a token bucket for test requests, pauses per ad account after a 429.

Both are shared by the delivery threads, so every method takes a lock, and both read an
injectable clock, so that tests can move time instead of sleeping. Neither waits: each
says how long its caller must wait, and the caller waits on the run's stop event, so a
termination signal ends the wait at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds on a clock that never goes back (``time.monotonic``)."""


class TokenBucket:
    """Lets at most ``rate`` requests a second through, ``burst`` of them at once.

    :meth:`reserve` takes a token at once and returns the wait before it may be used:
    tokens may be owed, so concurrent callers are spaced ``1 / rate`` apart in the order
    they reserved, and no caller polls. With ``burst`` 1, no window of one second holds
    more than ``rate`` requests.
    """

    def __init__(self, rate: float, burst: int = 1, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self._burst
        self._updated = clock()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0.0: at once)."""
        with self._lock:
            now = self._clock()
            refill = (now - self._updated) * self._rate
            self._tokens = min(self._burst, self._tokens + refill)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class Pauses:
    """When each ad account may be sent to again, after Pinterest answered it with a 429.

    Pinterest limits requests per ad account, so a 429 for one account holds back every
    request to that account (each thread's next try waits for the pause) and none to
    another.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def extend(self, account: str, seconds: float) -> float:
        """Pause ``account`` for at least ``seconds`` from now; return the pause left."""
        with self._lock:
            now = self._clock()
            until = self._until.get(account, now)
            if until > now + seconds:
                return until - now
            self._until[account] = now + seconds
            return seconds  # as asked, not recomputed: no rounding noise in the waits

    def remaining(self, account: str) -> float:
        """Seconds ``account`` is still paused for (0.0: not paused)."""
        with self._lock:
            until = self._until.get(account)
            if until is None:
                return 0.0
            left = until - self._clock()
            if left <= 0:
                del self._until[account]  # keeps the map as small as the accounts paused
                return 0.0
            return left
