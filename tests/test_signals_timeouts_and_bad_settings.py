"""Hardening through the CLI: signals, bounded waits, a stuck batch, hostile settings and
answers. Each test drives the installed command against a real local server."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from tests.cli import (
    DEADLINE,
    Lines,
    blocked_reading,
    command,
    run_target,
    wait_until,
    write_config,
)
from tests.fake_pinterest import FakePinterest, Scripted
from tests.singer import CHECKOUT, record_line, schema_line, state_line

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
MAPPING = CHECKOUT


def record(i: int, **extra: object) -> str:
    return record_line("orders", i, **extra)


def state(i: int) -> str:
    return state_line({"bookmarks": {"orders": i}})


def live(api_url: str, **extra: object) -> dict:
    return {
        "ad_account_id": ACCOUNT,
        "access_token": TOKEN,
        "api_url": api_url,
        "max_tries": 3,
        "streams": {"orders": MAPPING},
        **extra,
    }


def start(tmp_path: Path, config: dict, env: dict[str, str] | None = None) -> subprocess.Popen:
    path = write_config(tmp_path, config)
    return subprocess.Popen(
        [*command(), "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


class Feeder(threading.Thread):
    """The thread feeding a target's stdin; ``pipe`` is that stdin, open while it lives."""

    pipe: IO[str]


def feed(
    proc: subprocess.Popen,
    lines: list[str],
    pause: float = 0.0,
    *,
    close: bool = True,
) -> Feeder:
    """Write ``lines`` to the target's stdin from a thread (as a tap would), then close.

    With ``close=False`` stdin stays open, as with a tap that is still running: the run
    cannot end before the test signals it. The test must then keep the returned feeder
    until it is done: it holds the only reference to the pipe, which is closed (the run
    sees the end of its input) once nothing refers to it.
    """

    pipe = proc.stdin
    proc.stdin = None  # the feeder owns stdin now: communicate() must not touch it

    def run() -> None:
        try:
            for n, line in enumerate(lines):
                pipe.write(line + "\n")
                if pause and n % 50 == 0:
                    pipe.flush()
                    time.sleep(pause)
            pipe.flush()
            if close:
                pipe.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the target stopped reading: expected after a signal

    thread = Feeder(target=run, daemon=True)
    thread.pipe = pipe
    thread.start()
    return thread


def watch_stderr(proc: subprocess.Popen) -> Lines:
    """Read the target's stderr on a thread, to wait for its log lines as events."""
    lines = Lines(proc.stderr)
    proc.stderr = None  # read by ``lines`` now: communicate() must not touch it
    return lines


def finish(proc: subprocess.Popen, what: str) -> str:
    """The target's stdout once it exited; fail (after killing it) if it hangs.

    A stdin still open stays open until then (communicate() would close it): the run
    must end by the signal, not by the end of its input.
    """
    stdin, proc.stdin = proc.stdin, None
    try:
        out, _ = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the target did not stop within {DEADLINE:g}s {what}")
    finally:
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.close()
    return out


def summary_status(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("status")
    except (OSError, ValueError):
        return None  # not written yet


def states_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# 1. Signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_sigterm_at_a_random_moment_of_a_debug_logged_run_ends_honestly(tmp_path, seed):
    """SIGTERM while records are read, warned about (one warning per record, at DEBUG)
    and delivered: exit 143 (no hang), an `interrupted` summary, and STATE only for
    delivered records."""
    rng = random.Random(seed)
    n = 3000
    # Every record carries its own unlisted event name: one warning logged per record.
    mapping = {
        **MAPPING,
        "event_name_from": "kind",
        "event_name_fallback": "as_is",
    }
    lines = [schema_line()]
    for i in range(n):
        lines.append(record(i, kind=f"kind_{i}"))
        if i % 10 == 9:
            lines.append(state(i))
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"status": "succeeded", "exit_code": 0}))  # an old run's
    with FakePinterest(token=TOKEN, delay=0.05) as api:
        config = live(
            api.url,
            streams={"orders": mapping},
            summary_path=str(summary),
            batch_size_rows=100,
            max_parallel_requests=2,
        )
        proc = start(tmp_path, config, env={"TARGET_PINTEREST_CONVERSIONS_LOGLEVEL": "DEBUG"})
        # The tap's pace (0.02 s a 50 lines) spreads the input over a second or two, so
        # that the signal finds the run reading, warning and delivering; stdin stays open,
        # so the run cannot end before the signal, whatever the pace under load.
        feeder = feed(proc, lines, pause=0.02, close=False)
        err_lines = watch_stderr(proc)
        # From the moment the run has started (its summary says so), at a random time:
        # the moment is what the test varies; no assertion depends on where it lands.
        wait_until(lambda: summary_status(summary) == "running", "a running summary", proc=proc)
        time.sleep(rng.uniform(0.0, 2.0))
        proc.send_signal(signal.SIGTERM)
        out = finish(proc, "after SIGTERM")
        err = err_lines.join()
        accepted = {int(i) for i in api.accepted_ids()}
        with contextlib.suppress(OSError):  # unwritten lines: the target stopped reading
            feeder.pipe.close()  # only now: the run saw no end of input before the signal
    assert proc.returncode == 143, err[-3000:]
    report = json.loads(summary.read_text())
    assert report["status"] == "interrupted"
    assert report["exit_code"] == 143
    assert "Interrupted by SIGTERM" in report["message"]
    assert "Run interrupted (exit code 143)" in err.strip().splitlines()[-1]
    states = states_of(out)
    if states:
        covered = states[-1]["bookmarks"]["orders"]
        missing = [i for i in range(covered + 1) if i not in accepted]
        assert missing == [], f"STATE {covered} covers undelivered records {missing[:10]}"
    assert TOKEN not in err


def test_sigterm_while_the_tap_sends_nothing_stops_at_once(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        proc = start(tmp_path, live(api.url, summary_path=str(tmp_path / "s.json")))
        proc.stdin.write(schema_line() + "\n" + record(1) + "\n" + state(1) + "\n")
        # stdin stays open: the target reads the three lines, then blocks reading it.
        wait_until(lambda: blocked_reading(proc, proc.stdin), "a blocked read", proc=proc)
        proc.send_signal(signal.SIGTERM)
        err_lines = watch_stderr(proc)
        # A target that waited for more input would never end: stdin is still open.
        finish(proc, "after SIGTERM while waiting for input")
        err = err_lines.join()
    assert proc.returncode == 143, err[-2000:]
    assert json.loads((tmp_path / "s.json").read_text())["status"] == "interrupted"


def test_sigint_exits_130(tmp_path):
    proc = start(
        tmp_path,
        {"ad_account_id": ACCOUNT, "dry_run": True, "streams": {"orders": MAPPING}},
    )
    proc.stdin.write(schema_line() + "\n")
    # Signalled mid-run: the schema is read, and the target waits for more input.
    wait_until(lambda: blocked_reading(proc, proc.stdin), "a blocked read", proc=proc)
    proc.send_signal(signal.SIGINT)
    err_lines = watch_stderr(proc)
    finish(proc, "after SIGINT")
    err = err_lines.join()
    assert proc.returncode == 130, err[-2000:]
    assert "Received SIGINT: stopping" in err


def test_sigterm_during_a_long_retry_after_wait_does_not_wait_it_out(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.script.append(
            Scripted(status=503, body={"message": "later"}, headers={"Retry-After": "250"})
        )
        proc = start(tmp_path, live(api.url, summary_path=str(tmp_path / "s.json")))
        feed(proc, [schema_line(), record(1), state(1)])
        err_lines = watch_stderr(proc)
        err_lines.wait_for("retrying in 250.0s")  # the 503 came: the wait has begun
        proc.send_signal(signal.SIGTERM)
        # Waiting the 250 s out would outlast finish()'s deadline (120 s): it would fail.
        out = finish(proc, "after SIGTERM during a 250 s Retry-After wait")
        err = err_lines.join()
    assert proc.returncode == 143, err[-2000:]
    assert states_of(out) == []  # the record was not delivered: no STATE covers it
    assert len(api.requests) == 1


def test_a_400_after_the_signal_is_reported(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        answer = threading.Event()
        api.script.append(Scripted(status=400, body={"message": "bad request"}, release=answer))
        proc = start(tmp_path, live(api.url, summary_path=str(tmp_path / "s.json")))
        feed(proc, [schema_line(), record(1), state(1)])
        err_lines = watch_stderr(proc)
        # The request is on the wire, its answer held back: signal now, and let the 400
        # come only once the target has taken the signal in.
        wait_until(lambda: api.arrived, "the request", proc=proc)
        proc.send_signal(signal.SIGTERM)
        err_lines.wait_for("Received SIGTERM: stopping")
        answer.set()
        out = finish(proc, "after SIGTERM")
        err = err_lines.join()
    assert proc.returncode == 143, err[-2000:]
    report = json.loads((tmp_path / "s.json").read_text())
    assert "a delivery failed while stopping" in report["message"]
    assert "Pinterest rejected the request (400)" in report["message"]
    assert states_of(out) == []


def test_an_unexpected_error_writes_a_failed_summary_with_its_type(tmp_path):
    config = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        "dry_run_path": str(tmp_path / "dry.jsonl"),
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "summary_path": str(tmp_path / "s.json"),
        "streams": {"orders": MAPPING},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    # The installed CLI, with one function made to fail as a bug would.
    script = (
        "import sys\n"
        "from target_pinterest_conversions import sinks\n"
        "def broken(self, record, context):\n"
        "    raise ZeroDivisionError('a bug')\n"
        "sinks.PinterestEventsSink.process_record = broken\n"
        "from target_pinterest_conversions.target import TargetPinterestConversions\n"
        "sys.argv = ['target-pinterest-conversions', '--config', sys.argv[1]]\n"
        "TargetPinterestConversions.cli()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        input="\n".join([schema_line(), record(1), state(1)]) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["status"] == "failed"
    assert report["error_type"] == "ZeroDivisionError"
    assert "Run failed (exit code 1)" in proc.stderr.strip().splitlines()[-1]
    assert proc.stdout == ""


def test_a_run_killed_outright_leaves_a_running_summary_not_an_old_success(tmp_path):
    summary = tmp_path / "s.json"
    summary.write_text(json.dumps({"status": "succeeded", "exit_code": 0}))
    proc = start(
        tmp_path,
        {
            "ad_account_id": ACCOUNT,
            "dry_run": True,
            "streams": {"orders": MAPPING},
            "summary_path": str(summary),
        },
    )
    proc.stdin.write(schema_line() + "\n")
    # Killed mid-run: the schema is read, and the target waits for more input.
    wait_until(lambda: blocked_reading(proc, proc.stdin), "a blocked read", proc=proc)
    proc.kill()
    proc.communicate(timeout=DEADLINE)
    report = json.loads(summary.read_text())
    assert report["status"] == "running"
    assert report["exit_code"] is None


# 1b. Bounded waits ----------------------------------------------------------------------------


class DrippingServer:
    """Answers every request slowly, one byte every ``pause`` seconds (headers or body)."""

    def __init__(self, *, drip_headers: bool, pause: float = 0.3) -> None:
        self.drip_headers = drip_headers
        self.pause = pause
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.requests = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self.requests += 1
        with conn:
            conn.recv(65536)
            body = b'{"num_events_received": 1, "events": []}' + b" " * 2000
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            first, rest = (b"", head + body) if self.drip_headers else (head, body)
            try:
                conn.sendall(first)
                for byte in rest:
                    if self.stopped.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.pause)
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.mark.parametrize("drip_headers", [False, True])
def test_a_dripping_answer_is_cut_at_request_timeout(tmp_path, drip_headers):
    server = DrippingServer(drip_headers=drip_headers)
    try:
        # An answer takes over 600 s to drip (2,100 bytes, 0.3 s each): a run that waited
        # for it, even once, would outlast run_target's 120 s and fail the test. Two tries
        # of 2 s and one backoff wait take seconds; no bound nearer that would hold under
        # load.
        result = run_target(
            tmp_path,
            live(server.url, request_timeout=2, max_tries=2),
            [schema_line(), record(1), state(1)],
            timeout=DEADLINE,
        )
    finally:
        server.close()
    assert result.returncode == 4, result.stderr[-2000:]
    assert "gave up after 2 tries: no complete answer within request_timeout (2s)" in (
        result.stderr
    )
    assert server.requests == 2
    assert result.states == []


# 2. A stuck batch may not let delivery run far ahead of STATE -----------------------------------


def test_a_stuck_batch_bounds_what_a_crash_resends(tmp_path):
    n = 60_000
    lines = [schema_line()]
    for i in range(n):
        lines.append(record(i))
        if i % 500 == 499:
            lines.append(state(i))
    stuck = "5000"  # in the 6th batch of 1000
    with FakePinterest(token=TOKEN) as api:
        api.stuck_ids.add(stuck)
        config = live(api.url, max_tries=20, summary_path=str(tmp_path / "s.json"))
        proc = start(tmp_path, config)
        feed(proc, lines)
        # Delivery stalls behind the stuck batch once its window is full: the pool sends
        # at most max_parallel_requests (4) batches past the oldest unsettled one, so the
        # first 5 batches and the 4 after the stuck one are accepted, no more.
        stalled = 5000 + 4 * 1000
        wait_until(lambda: len(api.accepted_ids()) >= stalled, "a full window", proc=proc)
        # Two more tries of the stuck batch (1 s apart, its Retry-After) leave the target
        # time to go past its window if it would; none is needed for the stall itself.
        retries = sum(r.status == 503 for r in api.requests)
        wait_until(
            lambda: sum(r.status == 503 for r in api.requests) >= retries + 2,
            "two more tries of the stuck batch",
            proc=proc,
        )
        proc.kill()
        out, _ = proc.communicate(timeout=DEADLINE)
        first_run = api.accepted_ids()
        assert len(first_run) == stalled  # the window: no batch past it was sent
        states = states_of(out)
        resume_after = states[-1]["bookmarks"]["orders"] if states else -1

        api.stuck_ids.clear()
        rest = [schema_line()] + [
            line
            for line in lines[1:]
            if json.loads(line)["type"] == "STATE"
            or json.loads(line)["record"]["id"] > resume_after
        ]
        second = run_target(tmp_path, live(api.url), rest)
        assert second.returncode == 0, second.stderr[-2000:]
        everything = api.accepted_ids()
    second_run = everything[len(first_run) :]
    resent = set(first_run) & set(second_run)
    assert len(first_run) > 5000  # delivery went on past the stuck batch, within its window
    assert len(resent) <= 5000, f"{len(resent)} accepted events were re-sent"
    assert set(everything) == {str(i) for i in range(n)}  # nothing lost
    assert api.errors == []


# 3. Plain http to a non-local host -----------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://192.0.2.10", "http://api.pinterest.com", "http://10.0.0.1:8080"]
)
def test_plain_http_to_a_non_local_host_is_refused_before_any_request(tmp_path, url):
    result = run_target(tmp_path, live(url), [schema_line(), record(1), state(1)], timeout=30)
    assert result.returncode == 2
    assert "api_url: http:// would send the access token unencrypted" in result.stderr
    assert result.states == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"])
def test_plain_http_to_loopback_is_accepted(url):
    from target_pinterest_conversions.settings import _check_api_url

    _check_api_url(url)


# 5. The rest of the trial --------------------------------------------------------------------


def test_batch_size_rows_zero_is_refused(tmp_path):
    result = run_target(tmp_path, live("http://127.0.0.1:1", batch_size_rows=0), [])
    assert result.returncode == 2
    assert "batch_size_rows: Pinterest takes at most 1000 events a request; use 1 to 1000" in (
        result.stderr
    )


@pytest.mark.parametrize("schema", [5, "x", None, []])
def test_a_schema_message_without_a_schema_object_exits_5(tmp_path, schema):
    line = json.dumps({"type": "SCHEMA", "stream": "orders", "schema": schema})
    result = run_target(tmp_path, {**live("http://127.0.0.1:1"), "dry_run": True}, [line])
    assert result.returncode == 5, result.stderr[-2000:]
    assert "input line 1: the SCHEMA message for stream 'orders' has no schema object" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("MAX_TRIES", "lots-of-secret-tries", "expected an integer"),
        ("REQUEST_TIMEOUT", "soon-secret", "expected a number"),
        ("STREAMS", "{not json secret", "expected a JSON object"),
        ("DRY_RUN", "perhaps-secret", "expected true or false"),
    ],
)
def test_a_bad_value_in_config_env_is_one_line_without_the_value(tmp_path, var, value, expected):
    env = {
        "TARGET_PINTEREST_CONVERSIONS_AD_ACCOUNT_ID": ACCOUNT,
        "TARGET_PINTEREST_CONVERSIONS_DRY_RUN": "true",
        "TARGET_PINTEREST_CONVERSIONS_STREAMS": json.dumps({"orders": MAPPING}),
        f"TARGET_PINTEREST_CONVERSIONS_{var}": value,
    }
    proc = subprocess.run(
        [*command(), "--config", "ENV"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"Config error: TARGET_PINTEREST_CONVERSIONS_{var}: {expected}" in proc.stderr
    assert "secret" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_number_settings_from_config_env_work(tmp_path):
    env = {
        "TARGET_PINTEREST_CONVERSIONS_AD_ACCOUNT_ID": ACCOUNT,
        "TARGET_PINTEREST_CONVERSIONS_DRY_RUN": "true",
        "TARGET_PINTEREST_CONVERSIONS_DRY_RUN_PATH": str(tmp_path / "dry.jsonl"),
        "TARGET_PINTEREST_CONVERSIONS_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        "TARGET_PINTEREST_CONVERSIONS_STREAMS": json.dumps({"orders": MAPPING}),
        "TARGET_PINTEREST_CONVERSIONS_REQUEST_TIMEOUT": "12.5",
        "TARGET_PINTEREST_CONVERSIONS_MAX_TRIES": "3",
    }
    proc = subprocess.run(
        [*command(), "--config", "ENV"],
        input="\n".join([schema_line(), record(1), state(1)]) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert states_of(proc.stdout) == [{"bookmarks": {"orders": 1}}]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp: tmp / "folder", "it is a folder, not a file"),
        (lambda tmp: tmp / "file.txt" / "dead.jsonl", "a part of the path is a file, not a folder"),
    ],
)
def test_an_unwritable_dead_letter_path_is_refused_in_words(tmp_path, make, problem):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    path = make(tmp_path)
    config = {**live("http://127.0.0.1:1"), "dry_run": True, "dead_letter_path": str(path)}
    result = run_target(tmp_path, config, [schema_line(), record(1), state(1)])
    assert result.returncode == 2
    assert f"Config error: dead_letter_path: {path}: {problem}" in result.stderr
    assert "Errno" not in result.stderr


def test_a_fifo_dead_letter_path_works(tmp_path):
    fifo = tmp_path / "dead.fifo"
    os.mkfifo(fifo)
    received: list[str] = []

    def drain() -> None:
        with fifo.open() as pipe:
            received.extend(pipe.read().splitlines())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    config = {
        **live("http://127.0.0.1:1"),
        "dry_run": True,
        "dead_letter_path": str(fifo),
    }
    lines = [schema_line(), record(1), record(2, email=None), state(2)]
    result = run_target(tmp_path, config, lines)
    reader.join(timeout=30)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(received) == 1
    assert json.loads(received[0])["stream"] == "orders"
    assert result.states == [{"bookmarks": {"orders": 2}}]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_dead_letter_write_that_fails_mid_run_is_named_in_words(tmp_path):
    config = {
        **live("http://127.0.0.1:1"),
        "dry_run": True,
        "dead_letter_path": "/dev/full",
        "summary_path": str(tmp_path / "s.json"),
    }
    lines = [schema_line(), record(1), record(2, email=None), state(2)]
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Stopped: dead_letter_path: /dev/full: the disk is full" in result.stderr
    assert "Errno" not in result.stderr
    assert result.states == []  # the record was not dead-lettered: no STATE past it
    assert json.loads((tmp_path / "s.json").read_text())["status"] == "failed"
