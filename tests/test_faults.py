"""Faults injected by the local Pinterest server, driven through the CLI.

Every valid event must reach Pinterest (re-sends only with the same event_id), the run
exits 0 when retries succeed, and exits non-zero with STATE not advanced past
undelivered records when they do not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import fcntl
import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from tests.cli import (
    DEADLINE,
    command,
    kill_after_states,
    run_target,
    unread_bytes,
    wait_until,
    write_config,
)
from tests.fake_pinterest import FakePinterest, Scripted

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
MAPPING = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email"},
}
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "email": {"type": "string"}, "ts": {"type": "string"}},
}


def lines_for(start: int, stop: int, *, state_every: int = 10) -> list[str]:
    ts = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)).isoformat()
    out = [
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": SCHEMA, "key_properties": ["id"]}
        )
    ]
    for i in range(start, stop):
        rec = {"id": f"o{i}", "email": f"u{i}@example.com", "ts": ts}
        out.append(json.dumps({"type": "RECORD", "stream": "orders", "record": rec}))
        if (i + 1) % state_every == 0 or i == stop - 1:
            out.append(json.dumps({"type": "STATE", "value": {"orders": i + 1}}))
    return out


def ids(start: int, stop: int) -> set[str]:
    return {f"o{i}" for i in range(start, stop)}


def config(api: FakePinterest, **extra: object) -> dict:
    return {
        "ad_account_id": ACCOUNT,
        "access_token": TOKEN,
        "api_url": api.url,
        "streams": {"orders": MAPPING},
        "max_tries": 4,
        **extra,
    }


def assert_resends_keep_their_ids(api: FakePinterest) -> None:
    """A retried request carries exactly the events (and ids) of the failed one."""
    seen: dict[tuple[str, ...], int] = {}
    for request in api.requests:
        key = tuple(e["event_id"] for e in request.events)
        seen[key] = seen.get(key, 0) + 1
    batches = list(seen)
    flat = [i for batch in batches for i in batch]
    assert len(flat) == len(set(flat)), "an event was sent in two different requests"


HTTP_DATE = "<an HTTP date two seconds from the request>"


@pytest.mark.parametrize(
    "faults",
    [
        [Scripted(status=429, body={"code": 8, "message": "rate"}, headers={"Retry-After": "1"})],
        [
            Scripted(
                status=429, body={"code": 8, "message": "rate"}, headers={"Retry-After": HTTP_DATE}
            )
        ],
        [
            Scripted(status=s, body={"code": 1, "message": "x"}, headers={"Retry-After": "0"})
            for s in (500, 502, 503)
        ],
        [Scripted(status=504, raw=b"<html>gateway timeout</html>", headers={"Retry-After": "0"})],
        [Scripted(close=True), Scripted(close=True)],
        [Scripted(delay=2.5)],
    ],
    ids=["429-seconds", "429-http-date", "5xx", "504-html", "connection-closed", "read-timeout"],
)
def test_transient_faults_are_retried_and_every_event_delivered(tmp_path, faults):
    lines = lines_for(0, 30)
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    for fault in faults:
        if fault.headers.get("Retry-After") == HTTP_DATE:
            fault.headers = {"Retry-After": email.utils.format_datetime(when, usegmt=True)}
    with FakePinterest(token=TOKEN) as api:
        api.script.extend(faults)
        result = run_target(tmp_path, config(api, batch_size_rows=10, request_timeout=1), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(api.accepted_ids()) == ids(0, 30)
    assert_resends_keep_their_ids(api)
    assert result.states[-1] == {"orders": 30}
    if faults[0].headers.get("Retry-After") in ("1",):
        # Measured at the server, from the 429 to the same batch's next try: a slow
        # start-up under load cannot make up for a retry sent too early.
        (refused,) = [r for r in api.requests if r.status == 429]
        first_id = refused.events[0]["event_id"]
        again = [r.at for r in api.requests if r.events and r.events[0]["event_id"] == first_id]
        assert len(again) >= 2 and again[1] - again[0] >= 1.0
    if "GMT" in faults[0].headers.get("Retry-After", ""):
        # The refused batch is sent again no earlier than the date (whole seconds),
        # however long start-up took under load; other batches may go meanwhile.
        (refused,) = [r for r in api.requests if r.status == 429]
        first_id = refused.events[0]["event_id"]
        resent = [
            r.at for r in api.requests if r.status == 200 and r.events[0]["event_id"] == first_id
        ]
        assert resent and min(resent) >= int(when.timestamp())


@pytest.mark.parametrize(
    "answer",
    [
        Scripted(
            status=200, body={"num_events_received": 10, "num_events_processed": 10, "events": []}
        ),
        Scripted(status=200, body={"events": [{"status": "processed"}] * 3}),
    ],
    ids=["no-results", "fewer-results"],
)
def test_a_200_without_full_results_counts_the_events_as_processed(tmp_path, answer):
    with FakePinterest(token=TOKEN) as api:
        api.script.append(answer)
        result = run_target(tmp_path, config(api, batch_size_rows=10), lines_for(0, 20))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "per-event results for 10 events" in result.stderr
    assert result.states[-1] == {"orders": 20}


def test_a_200_that_is_not_pinterests_json_dead_letters_its_events_as_unknown(tmp_path):
    """A proxy's page is not Pinterest's verdict: the events are not counted as delivered;
    they go to the dead-letter file (for a replay) and the run goes on."""
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=200, raw=b"<html>OK</html>"))
        result = run_target(tmp_path, config(api, batch_size_rows=10), lines_for(0, 20))
    assert result.returncode == 0, result.stderr[-3000:]
    dead = [json.loads(line) for line in (tmp_path / "dead-letter.jsonl").read_text().splitlines()]
    assert len(dead) == 10
    assert all(
        "delivery unknown: HTTP 200 whose body is not Pinterest's JSON" in d["reason"] for d in dead
    )
    assert all("check api_url" in d["reason"] for d in dead)
    assert result.states[-1] == {"orders": 20}


def test_answers_that_are_never_pinterests_stop_the_run_naming_api_url(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.script.extend([Scripted(status=200, raw=b"<html>portal</html>")] * 3)
        result = run_target(
            tmp_path,
            config(api, batch_size_rows=10, max_parallel_requests=1),
            lines_for(0, 40),
        )
    assert result.returncode == 4, result.stderr[-3000:]
    assert "3 answers in a row from" in result.stderr
    assert "check api_url" in result.stderr
    # The first two batches were dead-lettered (resolved); nothing past the third.
    assert result.states[-1] == {"orders": 20}


def test_exhausted_retries_stop_without_state_past_undelivered_records(tmp_path):
    down = Scripted(
        status=503, body={"code": 4197, "message": "ramped down"}, headers={"Retry-After": "0"}
    )
    with FakePinterest(token=TOKEN) as api:
        # Two batches succeed, then the API stays down.
        api.script.extend([Scripted(), Scripted(), *[down] * 4])
        # One request at a time, so that the scripted answers meet the batches in order.
        result = run_target(
            tmp_path, config(api, batch_size_rows=10, max_parallel_requests=1), lines_for(0, 50)
        )
    assert result.returncode == 4
    assert "gave up after 4 tries" in result.stderr
    assert result.states == [{"orders": 10}, {"orders": 20}]
    assert set(api.accepted_ids()) == ids(0, 20)


def _start(tmp_path, api: FakePinterest, **extra: object) -> subprocess.Popen:
    path = write_config(tmp_path, config(api, **extra))
    return subprocess.Popen(
        [*command(), "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.parametrize("parallel", [1, 4])
def test_kill_9_then_resume_from_the_last_state_loses_nothing(tmp_path, parallel):
    total, batch = 1000, 50
    with FakePinterest(token=TOKEN, delay=0.05) as api:
        states = kill_after_states(
            tmp_path,
            config(api, batch_size_rows=batch, max_parallel_requests=parallel),
            lines_for(0, total, state_every=batch),
            4,
        )
        resume_at = states[-1]["orders"]
        first_run = set(api.accepted_ids())
        assert resume_at < total
        assert ids(0, resume_at) <= first_run

        # The tap resumes from the last STATE the target wrote.
        (tmp_path / "resume").mkdir()
        result = run_target(
            tmp_path / "resume",
            config(api, batch_size_rows=batch),
            lines_for(resume_at, total, state_every=batch)[:],
        )
        assert result.returncode == 0
        everything = api.accepted_ids()
    assert set(everything) == ids(0, total)
    # At most the batches in flight at the kill are sent again: about one batch with
    # one request at a time, at most `max_parallel_requests` (+1 filling) otherwise.
    resent = len(everything) - total
    assert resent <= (parallel + 1) * batch, f"{resent} events re-sent"


def _feed(proc: subprocess.Popen, lines: list[str]) -> None:
    """Write ``lines`` and leave stdin open, as a tap that is still running: the run
    cannot end by itself before the test signals it."""
    try:
        for line in lines:
            proc.stdin.write(line + "\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
    except (BrokenPipeError, ValueError, OSError):
        pass


def test_a_slow_api_does_not_make_the_target_buffer_its_input(tmp_path):
    """While the API is slow, the target stops reading: the tap is held back by the pipe."""
    total = 100_000
    with FakePinterest(token=TOKEN) as api:
        # The API answers nothing until the test has looked: as slow as it needs to be.
        api.hold = threading.Event()
        proc = _start(tmp_path, api, batch_size_rows=100, max_parallel_requests=4)
        stdin = proc.stdin
        assert stdin is not None
        count = {"n": 0}

        def feed() -> None:
            try:
                for line in lines_for(0, total, state_every=1000):
                    stdin.write(line + "\n")
                    count["n"] += 1
            except (BrokenPipeError, ValueError, OSError):
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        size = fcntl.fcntl(stdin.fileno(), fcntl.F_GETPIPE_SZ)
        main = Path(f"/proc/{proc.pid}/wchan")

        def holding_back() -> bool:
            # Its four requests are out and unanswered, its input pipe is full, and its
            # main thread (the one that reads input) sleeps on a lock, not in a read: it
            # could read and does not. A target that buffered its input would be reading.
            return (
                api.arrived >= 4
                and unread_bytes(stdin) >= size - 4096
                and "futex" in main.read_text()
            )

        wait_until(holding_back, "the target to stop reading", proc=proc)
        written = count["n"]
        proc.kill()
        proc.wait(timeout=DEADLINE)
    # At most four requests of 100 at a time went out; the rest of the input waits in
    # the tap (held back by the pipe), not in the target's memory.
    assert api.arrived == 4
    assert written < 5_000, f"the target read {written} lines while the API was slow"


def test_sigterm_stops_with_143_and_states_only_delivered_records(tmp_path):
    total, batch = 600, 20
    with FakePinterest(token=TOKEN, delay=0.05) as api:
        proc = _start(tmp_path, api, batch_size_rows=batch, max_parallel_requests=2)
        seen: list[tuple[dict, set[str]]] = []

        def read() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                seen.append((json.loads(line), set(api.accepted_ids())))

        reader = threading.Thread(target=read)
        reader.start()
        writer = threading.Thread(
            target=lambda: _feed(proc, lines_for(0, total, state_every=batch))
        )
        writer.start()
        wait_until(lambda: len(seen) >= 3, "three STATE lines", proc=proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=DEADLINE)
        reader.join(timeout=DEADLINE)
        writer.join(timeout=DEADLINE)
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        accepted = set(api.accepted_ids())
    assert code == 143  # interrupted: the records read after the last batch are not sent
    assert seen
    for state, accepted_then in seen:
        assert ids(0, state["orders"]) <= accepted_then
    assert ids(0, seen[-1][0]["orders"]) <= accepted
