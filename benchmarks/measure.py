"""Run one command and print its wall time and peak RSS as JSON (own process = own RSS)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

if __name__ == "__main__":
    stdin_path, *cmd = sys.argv[1:]
    started = time.perf_counter()
    with open(stdin_path, "rb") if stdin_path != "-" else sys.stdin.buffer as stdin:
        proc = subprocess.run(
            cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": peak_kb / 1024,
                "returncode": proc.returncode,
                "stderr_tail": proc.stderr.decode(errors="replace")[-500:]
                if proc.returncode
                else "",
            }
        )
    )
