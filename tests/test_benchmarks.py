"""The benchmark stays runnable: a small run measures every configuration and reports ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shopify import orders_schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(orders_schema() is None, reason="tap-shopify's orders schema is unavailable")
def test_benchmark_runs_and_reports_ratios(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--orders",
            "300",
            "--rss",
            "100,300",
            "--repeat",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "target / SDK no-op tuned" in result.stdout
    summary = json.loads(out.read_text())
    assert set(summary["events_per_second"]) == {
        "sdk_noop_default",
        "sdk_noop_tuned",
        "target",
        "target_no_schema_check",
    }
    assert all(rate > 0 for rate in summary["events_per_second"].values())
    assert summary["ratio_vs_tuned"] > 0
    assert summary["ratio_rss"] > 0


@pytest.mark.skipif(orders_schema() is None, reason="tap-shopify's orders schema is unavailable")
def test_memory_benchmark_runs_and_reports_the_ratio(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "memory.py"),
            "--orders-small",
            "200",
            "--orders-large",
            "2000",
            "--max-ratio",
            "0",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "peak RSS 2,000 / 200" in result.stdout
    summary = json.loads(out.read_text())
    assert set(summary["peak_rss_mb"]) == {"200", "2000"}
    # The target's own peak, well above measure.py's (about 12 MB, counted before exec).
    assert all(mb > 20 for mb in summary["peak_rss_mb"].values())
    assert summary["ratio"] > 0


@pytest.mark.skipif(orders_schema() is None, reason="tap-shopify's orders schema is unavailable")
def test_the_step_benchmark_counts_the_conversions_bytecodes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "steps.py"), "--bytecodes", "--orders", "40"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "conversion bytecodes per order, 30 tap-shopify orders after 10 to warm up:"
    total = int(lines[1].split(" bytecodes")[0].replace(",", ""))
    fast = next(line for line in lines if line.endswith("<string>:fast"))
    # Every order took the generated function once, and it ran most of the bytecodes.
    assert fast.split()[1] == "1.00"
    assert total / 2 < float(fast.split()[0].replace(",", "")) < total


@pytest.mark.skipif(orders_schema() is None, reason="tap-shopify's orders schema is unavailable")
def test_the_step_harness_stops_after_its_step(tmp_path: Path) -> None:
    """The valgrind runs' harness, run plainly: each step runs, and an order decoded whole
    or leaving the fast path (either would mix routes in the counts) stops it."""
    orders = tmp_path / "orders.singer"
    with orders.open("w") as handle:
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "5"],
            stdout=handle,
            check=True,
        )
    steps = [sys.executable, str(ROOT / "benchmarks" / "steps.py"), "--harness"]
    for step in ("load", "read", "convert", "signals", "encode"):
        done = subprocess.run([*steps, step, str(orders), "5"], capture_output=True, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
    text = orders.read_text()
    for change, why in [
        (('"currencyCode": "USD"', '"currencyCode": 7'), "an order was decoded whole"),
        (('"email": "Jane.Doe0@Example.com"', '"email": "Jane"'), "an order left the fast path"),
    ]:
        assert change[0] in text
        spoiled = tmp_path / "spoiled.singer"
        spoiled.write_text(text.replace(*change, 1))
        done = subprocess.run(
            [*steps, "convert", str(spoiled), "5"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 1
        assert why in done.stderr, done.stderr[-2000:]
