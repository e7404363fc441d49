"""Instructions per order, counted by valgrind: a measure that machine noise cannot move.

Wall-clock ratios on a shared virtual machine swing by tens of percent between runs;
instruction counts do not. Each command (the SDK no-op target with default settings,
the tuned no-op, this target against a local HTTP server) runs under callgrind on 0 and
on 0, 1 and N orders. Start-up is the run on 0 orders; the first order is reported apart,
because it also pays for what is set up on first use (country and region tables, phone
metadata, compiled patterns), which a real run of thousands of orders spreads thin; the
cost of one order is the difference between N orders and 1, over N - 1.
Threads are counted too (callgrind runs them one at a time). Needs ``valgrind``.

    python benchmarks/instructions.py            # 1,000 orders
    python benchmarks/instructions.py --orders 300
    python benchmarks/instructions.py --orders 3000 --skip sdk_noop_default --baseline-src /tmp/before

The default no-op validates each record with jsonschema and takes many times as long as
the others under callgrind: ``--skip sdk_noop_default`` leaves it out of long runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import HERE, PY, TARGET, target_config

_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(stdin: Path, cmd: list[str], pythonpath: str | None = None) -> int:
    """Run ``cmd`` under callgrind with ``stdin``; return the instructions it executed."""
    env = None if pythonpath is None else {**os.environ, "PYTHONPATH": pythonpath}
    with stdin.open("rb") as handle:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
            stdin=handle,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            env=env,
        )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"{cmd} failed under valgrind: {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1000, help="N, at least 2")
    parser.add_argument("--skip", action="append", default=[], help="a command not to run")
    parser.add_argument(
        "--baseline-src", help="also run the target from this source tree (an older checkout)"
    )
    args = parser.parse_args()
    if args.orders < 2:
        parser.error("--orders must be at least 2")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = {}
        for count in (0, 1, args.orders):
            inputs[count] = folder / f"orders{count}.singer"
            with inputs[count].open("w") as handle:
                subprocess.run(
                    [PY, str(HERE / "generate.py"), str(count)], stdout=handle, check=True
                )
        server = subprocess.Popen([PY, str(HERE / "server.py")], stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline())  # type: ignore[union-attr]
            commands = {
                "sdk_noop_default": [PY, str(HERE / "sdk_noop.py"), "default"],
                "sdk_noop_tuned": [PY, str(HERE / "sdk_noop.py"), "tuned"],
                "target": [*TARGET, "--config", target_config(folder, port)],
            }
            if args.baseline_src:
                # -P: the working directory (this tree) must not come before PYTHONPATH.
                commands["baseline_target"] = [PY, "-P", *commands["target"][1:]]
            for name in args.skip:
                commands.pop(name)
            # The baseline is the same command on another tree: valgrind does not follow
            # an `env` wrapper's exec, so the tree goes in through the environment.
            src = args.baseline_src and str(Path(args.baseline_src).resolve())
            counts = {
                name: {
                    n: instructions(path, cmd, src if name == "baseline_target" else None)
                    for n, path in inputs.items()
                }
                for name, cmd in commands.items()
            }
        finally:
            server.terminate()

    n = args.orders
    per_order = {name: (c[n] - c[1]) / (n - 1) for name, c in counts.items()}
    print(f"instructions (valgrind callgrind), {n} tap-shopify orders:")
    print(f"{'run':<20}{'per order':>12}{'first order':>14}{'start-up':>16}")
    for name, c in counts.items():
        print(f"{name:<20}{per_order[name]:>12,.0f}{c[1] - c[0]:>14,}{c[0]:>16,}")
    for base in [name for name in ("sdk_noop_tuned", "sdk_noop_default") if name in counts]:
        print(
            f"target / {base}: {per_order['target'] / per_order[base]:.2f}x per order, "
            f"{counts['target'][0] / counts[base][0]:.2f}x at start-up (lower is better)"
        )
    if "baseline_target" in counts:
        print(
            f"target / baseline_target: {per_order['target'] / per_order['baseline_target']:.3f}x"
        )


if __name__ == "__main__":
    main()
