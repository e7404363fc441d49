"""Pacing (delivery/throttle.py): the test-request token bucket and per-account pauses.

Time is a fake clock that the tests move: nothing here sleeps.
"""

from __future__ import annotations

import threading

import pytest

from target_pinterest_conversions.delivery.throttle import Pauses, TokenBucket


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_the_first_request_goes_at_once_and_the_next_ones_are_spaced_by_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    waits = [bucket.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_no_window_of_one_second_holds_more_than_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    # 50 requests asked for at once, then each sent when its wait is over.
    starts = sorted(clock.now + bucket.reserve() for _ in range(50))
    for first in starts:
        # (less a nanosecond: slots are sums of tenths, not exact in binary)
        assert sum(first <= t < first + 1.0 - 1e-9 for t in starts) <= 10


def test_tokens_come_back_with_time_up_to_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(10, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)
    clock.advance(10.0)  # long idle: the bucket holds the burst, not 100 tokens
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)


def test_a_request_after_a_pause_in_traffic_goes_at_once():
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    bucket.reserve()
    assert bucket.reserve() == pytest.approx(0.1)
    clock.advance(0.25)  # past the second request's slot
    assert bucket.reserve() == pytest.approx(0.0, abs=1e-9)


def test_reservations_from_many_threads_get_distinct_slots():
    """The delivery threads share one bucket: no two of them get the same slot."""
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(25):
            wait = bucket.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([i / 10 for i in range(200)])


def test_a_bucket_needs_a_rate_and_a_burst():
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(10, burst=0)


def test_a_pause_holds_its_account_only_and_ends():
    clock = FakeClock()
    pauses = Pauses(clock)
    assert pauses.extend("111", 30.0) == 30.0
    assert pauses.remaining("111") == pytest.approx(30.0)
    assert pauses.remaining("222") == 0.0
    clock.advance(12.0)
    assert pauses.remaining("111") == pytest.approx(18.0)
    clock.advance(18.0)
    assert pauses.remaining("111") == 0.0


def test_a_shorter_pause_never_cuts_a_longer_one():
    clock = FakeClock()
    pauses = Pauses(clock)
    pauses.extend("111", 30.0)
    clock.advance(5.0)
    assert pauses.extend("111", 2.0) == pytest.approx(25.0)
    assert pauses.extend("111", 40.0) == 40.0
    assert pauses.remaining("111") == pytest.approx(40.0)
