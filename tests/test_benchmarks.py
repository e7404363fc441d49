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
