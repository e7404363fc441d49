"""The run's shared resources (run.py): the summary file and its failure modes."""

from __future__ import annotations

import json
import logging

from target_pinterest_conversions.run import Run
from target_pinterest_conversions.settings import load_settings

MAPPING = {"event_name": "lead", "action_source": "web", "event_time": "ts", "user_data": {}}


def settings(tmp_path, **extra):
    return load_settings(
        {
            "ad_account_id": "549755885175",
            "dry_run": True,
            "dry_run_path": str(tmp_path / "dry.jsonl"),
            "dead_letter_path": str(tmp_path / "dead.jsonl"),
            "streams": {"s": MAPPING},
            **extra,
        },
    )


def test_a_summary_that_cannot_be_written_is_warned_about_and_nothing_else(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the summary's folder should be")
    run = Run(settings(tmp_path, summary_path=str(blocker / "summary.json")))
    with caplog.at_level(logging.WARNING):
        run.write_summary(0)  # must not raise: the exit code stays the run's own
    assert any(
        f"summary_path: {blocker / 'summary.json'}: not written:" in r.getMessage()
        for r in caplog.records
    )


def test_the_summary_says_running_until_the_run_ends(tmp_path):
    path = tmp_path / "out" / "summary.json"
    run = Run(settings(tmp_path, summary_path=str(path)))
    run.write_summary(None)
    assert json.loads(path.read_text())["status"] == "running"
    run.write_summary(143, "Interrupted by SIGTERM")
    report = json.loads(path.read_text())
    assert (report["status"], report["exit_code"]) == ("interrupted", 143)
    run.write_summary(4, "Stopped", error_type=None)
    assert json.loads(path.read_text())["status"] == "failed"
