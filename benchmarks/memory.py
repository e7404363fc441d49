"""Peak RSS of the target at two input sizes: memory must stay flat as the input grows.

The target does all its work (the tap-shopify preset, the real API output) against the
local stand-in server (server.py), fed tap-shopify orders that generate.py streams into
its standard input: nothing is materialized, in memory or on disk. Each measurement runs
the target under measure.py, a fresh process whose only child is the target, so
``ru_maxrss`` of its children is that one target's peak and nothing else's.

    python benchmarks/memory.py                     # 50,000 and 500,000 orders
    python benchmarks/memory.py --orders-small 200 --orders-large 2000 --max-ratio 0

Exits 1 when peak RSS at the large size exceeds ``--max-ratio`` (1.10) times the small's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import HERE, PY, TARGET, target_config


def peak_rss(count: int, config: str) -> dict:
    """Stream ``count`` generated orders into one target run; its peak RSS and wall time."""
    gen = subprocess.Popen([PY, str(HERE / "generate.py"), str(count)], stdout=subprocess.PIPE)
    runner = subprocess.Popen(
        [PY, str(HERE / "measure.py"), "-", *TARGET, "--config", config],
        stdin=gen.stdout,
        stdout=subprocess.PIPE,
        text=True,
    )
    # Only the target holds the pipe's read end: if it stops early, the generator gets
    # a broken pipe instead of blocking on a full one.
    gen.stdout.close()  # type: ignore[union-attr]
    out, _ = runner.communicate()
    gen.wait()
    if runner.returncode != 0:
        sys.exit(f"measure.py failed ({runner.returncode}) at {count} orders")
    result = json.loads(out)
    if result["returncode"] != 0:
        sys.exit(f"the target failed at {count} orders: {result['stderr_tail']}")
    if gen.returncode != 0:
        sys.exit(f"generate.py failed ({gen.returncode}) at {count} orders")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders-small", type=int, default=50_000)
    parser.add_argument("--orders-large", type=int, default=500_000)
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=1.10,
        help="fail above this large / small peak RSS ratio (0 turns the check off)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if not 0 < args.orders_small < args.orders_large:
        parser.error("needs 0 < --orders-small < --orders-large")

    runs: dict[int, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([PY, str(HERE / "server.py")], stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline())  # type: ignore[union-attr]
            config = target_config(Path(tmp), port)
            for count in (args.orders_small, args.orders_large):
                runs[count] = peak_rss(count, config)
        finally:
            server.terminate()
            server.wait()

    small, large = runs[args.orders_small], runs[args.orders_large]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    print("target against the local server, tap-shopify preset, orders streamed into stdin:")
    for count, run in runs.items():
        print(
            f"peak RSS, {count:>9,} orders: {run['peak_rss_mb']:6.1f} MB"
            f"   ({run['seconds']:.1f} s at generate.py's pace)"
        )
    goal = f"goal <= {args.max_ratio:.2f}" if args.max_ratio > 0 else "not checked"
    print(f"peak RSS {args.orders_large:,} / {args.orders_small:,}: {ratio:.3f}x   ({goal})")
    if args.json:
        summary = {
            "peak_rss_mb": {str(count): run["peak_rss_mb"] for count, run in runs.items()},
            "seconds": {str(count): run["seconds"] for count, run in runs.items()},
            "ratio": ratio,
            "max_ratio": args.max_ratio,
        }
        Path(args.json).write_text(json.dumps(summary, indent=2))
    if args.max_ratio > 0 and ratio > args.max_ratio:
        sys.exit(f"memory is not flat: {ratio:.3f}x > {args.max_ratio:.2f}x")


if __name__ == "__main__":
    main()
