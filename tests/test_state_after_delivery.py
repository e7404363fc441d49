"""Delivery-gated STATE (delivery/state.py)."""

from __future__ import annotations

import io
from decimal import Decimal

from target_pinterest_conversions.delivery.state import StateGate, encode_state


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_state_with_nothing_pending_is_written_at_once_and_flushed():
    out = io.StringIO()
    gate = StateGate(out=out)
    gate.next_seq()
    gate.offer({"a": 1})
    assert lines(out) == ['{"a":1}']


def test_state_waits_for_the_batches_started_before_it():
    out = io.StringIO()
    gate = StateGate(out=out)
    gate.open_batch("b1", gate.next_seq())
    gate.next_seq()
    gate.offer({"n": 2})
    assert lines(out) == []
    # A batch opened after the STATE does not hold it back.
    gate.open_batch("b2", gate.next_seq())
    gate.close_batch("b1")
    assert lines(out) == ['{"n":2}']
    gate.offer({"n": 3})
    assert lines(out) == ['{"n":2}']
    gate.close_batch("b2")
    assert lines(out) == ['{"n":2}', '{"n":3}']


def test_only_the_newest_ready_state_is_written_and_repeats_are_not():
    out = io.StringIO()
    gate = StateGate(out=out)
    gate.open_batch("b", gate.next_seq())
    for n in range(5):
        gate.offer({"n": n})
    gate.close_batch("b")
    gate.offer({"n": 4})
    assert lines(out) == ['{"n":4}']
    assert gate.emitted == 1


def test_dead_letters_are_synced_before_each_state():
    calls = []
    out = io.StringIO()
    gate = StateGate(out=out, before_emit=lambda _line, _watermark: calls.append(len(lines(out))))
    gate.offer({"a": 1})
    gate.offer({"a": 2})
    assert calls == [0, 1]


def test_each_state_is_announced_on_arrival_and_emitted_with_the_records_it_covers():
    # An output that writes as it reads (the CSV of output api+csv) learns where each STATE
    # came, and at emission which one goes out: it commits those records' rows only.
    out = io.StringIO()
    offered, emitted = [], []
    gate = StateGate(
        out=out,
        on_offer=offered.append,
        before_emit=lambda line, watermark: emitted.append((line, watermark)),
    )
    gate.open_batch("api", gate.next_seq())  # record 1 waits for Pinterest
    gate.offer({"n": 1})
    gate.next_seq()  # record 2, written to a file at once
    gate.offer({"n": 2})
    gate.open_batch("api-2", gate.next_seq())  # record 3 waits too
    gate.next_seq()  # record 4, written at once
    gate.offer({"n": 4})
    assert offered == [1, 2, 4]
    assert emitted == []
    gate.close_batch("api")
    # STATE 2 goes out (4 waits for record 3): it covers records 1 and 2, not 4.
    assert emitted == [('{"n":2}', 2)]
    gate.close_batch("api-2")
    assert emitted == [('{"n":2}', 2), ('{"n":4}', 4)]


def test_decimals_in_state_stay_exact():
    assert encode_state({"v": Decimal("1.10"), "n": Decimal("3")}) == '{"v":1.10,"n":3}\n'


def test_states_held_behind_a_stuck_batch_are_collapsed():
    out = io.StringIO()
    gate = StateGate(out=out)
    gate.next_seq()
    gate.open_batch("stuck", 1)
    for n in range(2, 10_002):
        gate.next_seq()
        if n % 100 == 0:
            gate.open_batch(f"b{n}", n)  # later batches open and settle behind the stuck one
            gate.close_batch(f"b{n}")
        gate.offer({"at": n})
    assert gate.held == 1  # only the newest: every other one is superseded by it
    assert lines(out) == []
    gate.close_batch("stuck")
    assert lines(out) == ['{"at":10001}']


def test_a_state_before_an_open_batch_is_kept_apart_from_the_ones_after_it():
    out = io.StringIO()
    gate = StateGate(out=out)
    gate.next_seq()
    gate.open_batch("a", 1)
    gate.offer({"at": 1})  # waits for batch a
    gate.next_seq()
    gate.open_batch("b", 2)
    gate.offer({"at": 2})  # waits for a and b: must not replace {"at": 1}
    gate.offer({"at": 3})  # no batch opened since: replaces {"at": 2}
    assert gate.held == 2
    gate.close_batch("a")
    assert lines(out) == ['{"at":1}']
    gate.close_batch("b")
    assert lines(out) == ['{"at":1}', '{"at":3}']
