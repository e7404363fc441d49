"""Throughput and memory of target-pinterest-conversions beside the SDK's own baselines.

Everything is measured in this one run, on the same input, so the ratios hold on a noisy
machine: the SDK no-op target with default settings, the same no-op tuned with the SDK's
levers (msgspec reader, fastjsonschema validator), and this target doing all its work
against a local HTTP server. Then peak RSS at two input sizes.

    python benchmarks/run.py                      # 30,000 orders, RSS at 100k and 1M
    python benchmarks/run.py --orders 10000 --rss 20000,200000 --repeat 1

Before and after a change, side by side in the same run (a copy of the older tree, e.g.
``git worktree add /tmp/before <rev>``, run with the same interpreter)::

    python benchmarks/run.py --baseline-src /tmp/before --rss ''
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
TARGET = [PY, "-m", "target_pinterest_conversions"]


def measure(stdin: str, cmd: list[str], feed: list[str] | None = None) -> dict:
    """Run ``cmd`` under measure.py; with ``feed``, pipe the generator's output into it."""
    runner = [PY, str(HERE / "measure.py"), stdin, *cmd]
    if feed is None:
        out = subprocess.run(runner, capture_output=True, text=True, check=True).stdout
    else:
        gen = subprocess.Popen(feed, stdout=subprocess.PIPE)
        out = subprocess.run(
            runner, stdin=gen.stdout, capture_output=True, text=True, check=True
        ).stdout
        gen.wait()
    result = json.loads(out)
    if result["returncode"] != 0:
        sys.exit(f"{cmd} failed: {result['stderr_tail']}")
    return result


def best_of(stdin: str, commands: dict[str, list[str]], repeat: int) -> dict[str, dict]:
    """Run the commands in turn, ``repeat`` rounds, and keep each one's fastest run.

    Rounds interleave the commands, so a slow spell of a noisy machine hits them all
    rather than one of them.
    """
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for name, cmd in commands.items():
            run = measure(stdin, cmd)
            if name not in best or run["seconds"] < best[name]["seconds"]:
                best[name] = run
    return best


def target_config(folder: Path, port: int, **extra: object) -> str:
    config = {
        "ad_account_id": "549755885175",
        "access_token": "benchmark-token",
        "api_url": f"http://127.0.0.1:{port}",
        "dead_letter_path": str(folder / "dead-letter.jsonl"),
        "streams": {"orders": {"preset": "tap-shopify/orders"}},
        **extra,
    }
    path = folder / f"config{len(extra)}.json"
    path.write_text(json.dumps(config))
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument(
        "--rss", default="100000,1000000", help="two order counts for peak RSS, or ''"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--baseline-src",
        help="also run the target from this source tree (an older checkout), interleaved",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "orders.singer"
        with data.open("w") as handle:
            subprocess.run(
                [PY, str(HERE / "generate.py"), str(args.orders)], stdout=handle, check=True
            )
        server = subprocess.Popen([PY, str(HERE / "server.py")], stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline())  # type: ignore[union-attr]
            config = target_config(folder, port)
            unchecked = target_config(folder, port, validate_records=False)
            commands = {
                "sdk_noop_default": [PY, str(HERE / "sdk_noop.py"), "default"],
                "sdk_noop_tuned": [PY, str(HERE / "sdk_noop.py"), "tuned"],
                "target": [*TARGET, "--config", config],
                "target_no_schema_check": [*TARGET, "--config", unchecked],
            }
            if args.baseline_src:
                src = str(Path(args.baseline_src).resolve())
                # -P: the working directory (this tree) must not come before PYTHONPATH.
                commands["baseline_target"] = ["env", f"PYTHONPATH={src}", PY, "-P", *TARGET[1:]]
                commands["baseline_target"] += ["--config", config]
            results = best_of(str(data), commands, args.repeat)
            rss = {}
            if args.rss:
                for count in (int(x) for x in args.rss.split(",")):
                    rss[count] = measure(
                        "-",
                        [*TARGET, "--config", config],
                        [PY, str(HERE / "generate.py"), str(count)],
                    )
        finally:
            server.terminate()

    n = args.orders
    rates = {name: n / r["seconds"] for name, r in results.items()}
    print(f"{n} tap-shopify orders, best of {args.repeat} interleaved rounds, same machine:")
    print(f"{'run':<22}{'events/s':>12}{'seconds':>10}{'peak RSS MB':>14}")
    for name, r in results.items():
        print(f"{name:<22}{rates[name]:>12,.0f}{r['seconds']:>10.2f}{r['peak_rss_mb']:>14.1f}")
    ratio_tuned = rates["target"] / rates["sdk_noop_tuned"]
    ratio_default = rates["target"] / rates["sdk_noop_default"]
    print(f"target / SDK no-op tuned:   {ratio_tuned:.2f}x   (goal >= 1.0)")
    print(f"target / SDK no-op default: {ratio_default:.2f}x   (goal >= 5.0)")
    print(
        "with validate_records off (types are still checked by conversion): "
        f"{rates['target_no_schema_check'] / rates['sdk_noop_tuned']:.2f}x tuned, "
        f"{rates['target_no_schema_check'] / rates['sdk_noop_default']:.2f}x default",
    )
    if args.baseline_src:
        before = rates["baseline_target"] / rates["sdk_noop_tuned"]
        print(
            f"baseline ({args.baseline_src}) / SDK no-op tuned: {before:.2f}x; "
            f"this tree / baseline: {rates['target'] / rates['baseline_target']:.2f}x"
        )
    summary = {
        "orders": n,
        "events_per_second": rates,
        "runs": results,
        "ratio_vs_tuned": ratio_tuned,
        "ratio_vs_default": ratio_default,
    }
    if rss:
        small, large = sorted(rss)
        ratio_rss = rss[large]["peak_rss_mb"] / rss[small]["peak_rss_mb"]
        for count in (small, large):
            print(
                f"peak RSS, {count:>9,} orders: {rss[count]['peak_rss_mb']:.1f} MB ({count / rss[count]['seconds']:,.0f} events/s)"
            )
        print(f"peak RSS {large:,} / {small:,}: {ratio_rss:.2f}x   (goal <= 1.25)")
        summary["peak_rss_mb"] = {str(k): v["peak_rss_mb"] for k, v in rss.items()}
        summary["ratio_rss"] = ratio_rss
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
