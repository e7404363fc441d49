"""``output: csv`` under kill -9: every row in the folder exactly once, whenever it lands.

The target writes rows, commits them in a manifest, then writes the STATE line. These
tests kill it at random moments many times over, and at the one moment that is hardest to
see from outside: after the manifest is renamed, while the STATE line cannot get out (its
stdout pipe is full, as when the orchestrator reads slowly). Each resumed run gets what a
tap sends after the last STATE the orchestrator received: that STATE first, as SDK taps
do, or no STATE at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.cli import DEADLINE, run_target, start_target, wait_until
from tests.shopify import EXAMPLE_MAPPING, orders_schema, singer_lines
from tests.test_csv_output import read_rows

SCHEMA = orders_schema()
pytestmark = pytest.mark.skipif(SCHEMA is None, reason="tap-shopify orders schema unavailable")


def csv_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "output": "csv",
        "csv_path": str(tmp_path / "out"),
        "streams": {"orders": EXAMPLE_MAPPING},
        "progress_interval": 0,
    }


def order_number(line: str) -> int | None:
    message = json.loads(line)
    if message["type"] != "RECORD":
        return None
    return int(message["record"]["id"].rsplit("/", 1)[1]) - 1_000_000


def resumed_input(lines: list[str], state: dict | None, *, first_state: bool) -> list[str]:
    """What a tap sends when resumed from ``state``: optionally that STATE, then the rest."""
    after = state["bookmarks"]["orders"]["n"] if state else 0
    rest = [lines[0]]
    if first_state and state is not None:
        rest.append(json.dumps({"type": "STATE", "value": state}))
    for line in lines[1:]:
        n = order_number(line)
        if n is None:
            if json.loads(line)["value"]["bookmarks"]["orders"]["n"] > after:
                rest.append(line)
        elif n >= after:
            rest.append(line)
    return rest


def clean_rows(tmp_path: Path, lines: list[str]) -> Counter:
    folder = tmp_path / "clean"
    folder.mkdir()
    result = run_target(folder, csv_config(folder), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    return Counter(map(tuple, read_rows(folder / "out")))


def kill_after_line(
    tmp_path: Path, config: dict[str, Any], lines: list[str], kill_at: int
) -> list[dict]:
    """Feed ``lines``; SIGKILL the command once line ``kill_at`` is written; its STATEs."""
    proc = start_target(tmp_path, config, stderr=subprocess.DEVNULL)
    states: list[dict] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            states.append(json.loads(line))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i, line in enumerate(lines):
            proc.stdin.write(line + "\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            if i == kill_at:
                break
    except (BrokenPipeError, OSError):
        pass  # it ended before the kill: e.g. the input was short
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=DEADLINE)
    reader.join(timeout=DEADLINE)
    with_stdin_closed(proc)
    return states


def kill_at_random(
    run: Path,
    config: dict[str, Any],
    lines: list[str],
    rng: random.Random,
    *,
    times: int,
    stretch: int,
) -> tuple[dict | None, int]:
    """Kill the command ``times`` times at a random line, each run resumed from the last
    STATE received; return that STATE and the kills made (fewer once the input runs out)."""
    last: dict | None = None
    kills = 0
    for _ in range(times):
        rest = resumed_input(lines, last, first_state=rng.random() < 0.5)
        if len(rest) < 50:
            break
        # Any line of the next stretch, not only next to a STATE line; a stretch, not
        # all that is left, so that the input lasts for every kill.
        kill_at = rng.randrange(1, min(len(rest), stretch))
        states = kill_after_line(run, config, rest, kill_at)
        kills += 1
        if states:
            last = states[-1]
    return last, kills


def with_stdin_closed(proc: subprocess.Popen) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        proc.stdin.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("first_state", [True, False], ids=["tap-sends-state", "no-state"])
def test_a_kill_while_the_state_line_cannot_get_out_leaves_every_row_once(tmp_path, first_state):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = singer_lines(1500, SCHEMA, state_every=1, now=now)
    expected = clean_rows(tmp_path, lines)
    run = tmp_path / "run"
    run.mkdir()
    proc = start_target(run, csv_config(run), stderr=subprocess.DEVNULL, text=False)
    # The smallest pipe the kernel allows, never read: the STATE lines fill it, and the
    # target blocks writing one, after its manifest named that STATE's rows.
    fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)  # type: ignore[union-attr]

    def feed() -> None:
        try:
            for line in lines:
                proc.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    wchan = Path(f"/proc/{proc.pid}/wchan")
    # The kernel names the wait pipe_write or anon_pipe_write, by version.
    wait_until(
        lambda: wchan.read_text().endswith("pipe_write"), "the target to block on STATE", proc=proc
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=DEADLINE)
    received = proc.stdout.read().decode().splitlines()  # type: ignore[union-attr]
    with_stdin_closed(proc)
    last = json.loads(received[-1])
    assert last["bookmarks"]["orders"]["n"] < 1500
    manifest = json.loads((run / "out" / ".pinterest-conversions.manifest.json").read_text())
    # The manifest is one STATE ahead of what the orchestrator received.
    assert json.loads(manifest["state"]) != last
    assert json.loads(manifest["confirmed_state"]) == last

    result = run_target(run, csv_config(run), resumed_input(lines, last, first_state=first_state))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "csv_path: cut the last 1 rows of the interrupted run" in result.stderr
    assert Counter(map(tuple, read_rows(run / "out"))) == expected


@pytest.mark.slow
def test_random_kills_many_times_over_leave_every_row_once(tmp_path):
    seed = int(os.environ.get("CSV_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = singer_lines(2000, SCHEMA, state_every=7, now=now)
    expected = clean_rows(tmp_path, lines)
    run = tmp_path / "run"
    run.mkdir()
    last, kills = kill_at_random(run, csv_config(run), lines, rng, times=16, stretch=220)
    rest = resumed_input(lines, last, first_state=rng.random() < 0.5)
    result = run_target(run, csv_config(run), rest)
    assert result.returncode == 0, f"seed {seed}: {result.stderr[-3000:]}"
    rows = Counter(map(tuple, read_rows(run / "out")))
    assert kills >= 10
    assert rows == expected, f"seed {seed}: every row exactly once"
