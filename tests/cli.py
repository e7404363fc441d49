"""Run the installed ``target-pinterest-conversions`` command as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    path = write_config(tmp_path, config)
    proc = subprocess.Popen(
        [*command(), "--config", str(path), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return Result(proc.returncode, out, err)


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

    ``pause_every`` lines the feeder sleeps ``pause`` seconds, a tap's pace, so the kill
    lands mid-way through the input.
    """
    import signal
    import threading
    import time

    path = write_config(tmp_path, config)
    proc = subprocess.Popen(
        [*command(), "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    states: list[dict[str, Any]] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            states.append(json.loads(line))

    def feed() -> None:
        try:
            for i, line in enumerate(lines):
                proc.stdin.write(line + "\n")  # type: ignore[union-attr]
                if pause_every and i % pause_every == 0:
                    proc.stdin.flush()  # type: ignore[union-attr]
                    time.sleep(pause)
            proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError, OSError):
            pass  # killed while feeding

    reader = threading.Thread(target=read)
    writer = threading.Thread(target=feed)
    reader.start()
    writer.start()
    deadline = time.monotonic() + 60
    while len(states) < states_before_kill and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    writer.join(timeout=10)
    assert len(states) >= states_before_kill
    return states
