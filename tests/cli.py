"""Run the installed ``target-pinterest-conversions`` command as a user would."""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

DEADLINE = 120.0
"""How long a test waits for an event that comes in a fraction of a second on an idle
machine: it only ends a hang, so a loaded machine cannot fail a test by being slow."""


def command() -> list[str]:
    """The console script next to this Python, else ``python -m``."""
    script = Path(sys.executable).parent / "target-pinterest-conversions"
    if script.exists():
        return [str(script)]
    found = shutil.which("target-pinterest-conversions")
    return [found] if found else [sys.executable, "-m", "target_pinterest_conversions"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    config = {
        "dead_letter_path": str(tmp_path / "dead-letter.jsonl"),
        "dry_run_path": str(tmp_path / "dry-run.jsonl"),
        **config,
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def run_target(
    tmp_path: Path,
    config: dict[str, Any],
    lines: list[str],
    *,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> Result:
    """Pipe ``lines`` into the command with ``config``; return exit code and output."""
    path = write_config(tmp_path, config)
    proc = subprocess.run(
        [*command(), "--config", str(path)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def start_target(
    tmp_path: Path,
    config: dict[str, Any],
    *args: str,
    stderr: int | IO[Any] = subprocess.PIPE,
    text: bool = True,
) -> subprocess.Popen:
    """Start the command with ``config`` (written in ``tmp_path``), stdin and stdout piped.

    ``stderr`` is piped unless told otherwise (``subprocess.DEVNULL``); the caller feeds the
    command, reads it and ends it.
    """
    path = write_config(tmp_path, config)
    return subprocess.Popen(
        [*command(), "--config", str(path), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=text,
    )


def run_with_stdin_open(
    tmp_path: Path,
    config: dict[str, Any],
    *args: str,
    timeout: float = 120,
) -> Result:
    """Run the command with ``config`` and a stdin that stays open and is never written.

    For what must finish without reading input (config errors, ``--check``): a target
    that waited for stdin would hang here until ``timeout``.
    """
    proc = start_target(tmp_path, config, *args)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return Result(proc.returncode, out, err)


def wait_until(
    condition: Callable[[], object],
    what: str,
    *,
    proc: subprocess.Popen | None = None,
    timeout: float = DEADLINE,
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds,
    or at once if ``proc`` ended first (the event can then never come)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the command ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.005)


def unread_bytes(pipe: IO[Any]) -> int:
    """Bytes written to ``pipe`` (either end) that its reader has not read yet."""
    count = array.array("i", [0])
    fcntl.ioctl(pipe.fileno(), termios.FIONREAD, count)
    return count[0]


def blocked_reading(proc: subprocess.Popen, stdin: IO[Any]) -> bool:
    """Tell whether ``proc`` read all that was written to its ``stdin`` and now waits in a
    read of it (its main thread, the one reading input, sleeps in a pipe read)."""
    stdin.flush()
    try:
        wchan = Path(f"/proc/{proc.pid}/wchan").read_text()
    except OSError:
        return False
    # The kernel names the wait pipe_read or anon_pipe_read, by version.
    return wchan.endswith("pipe_read") and unread_bytes(stdin) == 0


class Lines:
    """A child's output stream read line by line on a thread: kept whole for the end, and
    waited for on the way (a log line is the event that says where the child is)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, text: str, *, timeout: float = DEADLINE) -> str:
        """Wait for a line holding ``text``; return it. Fail if the stream ends first."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: self._ended or any(text in line for line in self.lines), timeout
            )
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            why = "the stream ended" if done else f"{timeout:g}s passed"
            raise AssertionError(f"{why} without a line holding {text!r}:\n{self.text[-3000:]}")

    def join(self, timeout: float = DEADLINE) -> str:
        """Wait for the end of the stream (the child exited); return all of it."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the stream did not end within {timeout:g}s"
        return self.text

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)


def kill_after_states(
    tmp_path: Path,
    config: dict[str, Any],
    lines: list[str],
    states_before_kill: int,
    *,
    pause_every: int = 0,
    pause: float = 0.0,
) -> list[dict[str, Any]]:
    """Feed ``lines`` to the command, SIGKILL it once it wrote that many STATEs; return them.

    The last line is held back and stdin stays open until the kill: however slowly the
    test is scheduled, the run cannot reach the end of its input (and its last STATE)
    before it is killed. ``pause_every`` lines the feeder sleeps ``pause`` seconds, a
    tap's pace, so that the kill tends to land mid-way through the input; no assertion
    depends on where it lands.
    """
    proc = start_target(tmp_path, config, stderr=subprocess.DEVNULL)
    states: list[dict[str, Any]] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            states.append(json.loads(line))

    def feed() -> None:
        try:
            for i, line in enumerate(lines[:-1]):
                proc.stdin.write(line + "\n")  # type: ignore[union-attr]
                if pause_every and i % pause_every == 0:
                    proc.stdin.flush()  # type: ignore[union-attr]
                    time.sleep(pause)
            proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError, OSError):
            pass  # killed while feeding

    reader = threading.Thread(target=read)
    writer = threading.Thread(target=feed)
    reader.start()
    writer.start()
    try:
        wait_until(
            lambda: len(states) >= states_before_kill,
            f"{states_before_kill} STATE lines (got {len(states)})",
            proc=proc,
        )
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=DEADLINE)
        reader.join(timeout=DEADLINE)
        writer.join(timeout=DEADLINE)
        with contextlib.suppress(BrokenPipeError, OSError):
            proc.stdin.close()  # type: ignore[union-attr]
    return states
