"""Pinterest's per-event statuses: processed, failed, and any status it may add.

A status other than ``processed`` and ``failed`` is an outcome of its own: counted under
its name in the summary (``pinterest_statuses``), warned about once, never counted as a
failure nor dead-lettered (Pinterest did not refuse the event).
"""

from __future__ import annotations

import json
import logging

import pytest

from target_pinterest_conversions.context.summary import RunSummary
from target_pinterest_conversions.delivery.batch import PendingEvent
from target_pinterest_conversions.delivery.client import PROCESSED, UNKNOWN_STATUS, EventResult
from target_pinterest_conversions.delivery.outcome import settle
from tests.cli import run_target
from tests.fake_pinterest import FakePinterest, Scripted
from tests.singer import CHECKOUT, record_line, schema_line, state_line

TOKEN = "statuses-token-123"


class Letters:
    """A dead-letter writer that keeps what it is given."""

    def __init__(self) -> None:
        self.lines: list[dict] = []

    def write(self, **line: object) -> None:
        self.lines.append(line)


def _pending(n: int) -> list[PendingEvent]:
    return [PendingEvent(event={"event_id": str(i)}, key={"id": i}) for i in range(n)]


def test_a_new_status_is_its_own_outcome_counted_and_warned_once(caplog):
    summary, letters = RunSummary(), Letters()
    results = [
        PROCESSED,
        EventResult(status="failed", error_message="bad event_time"),
        EventResult(status="deduplicated"),
        EventResult(status="deduplicated"),
        EventResult(status=UNKNOWN_STATUS, error_message="not Pinterest's answer"),
    ]
    with caplog.at_level(logging.WARNING):
        processed = settle("orders", "1", _pending(5), results, letters, summary)  # type: ignore[arg-type]
    assert processed == 1
    stats = summary.stats("orders")
    assert (stats.events_sent, stats.processed, stats.failed_at_pinterest) == (5, 1, 2)
    assert dict(stats.pinterest_statuses) == {"deduplicated": 2}
    assert [line["key"] for line in letters.lines] == [{"id": 1}, {"id": 4}]
    warnings = [r.getMessage() for r in caplog.records if "deduplicated" in r.getMessage()]
    assert len(warnings) == 1
    assert "neither processed nor failed" in warnings[0]


@pytest.mark.cli
def test_through_the_cli_a_new_status_is_reported_and_the_run_succeeds(tmp_path):
    answer = {
        "num_events_received": 3,
        "num_events_processed": 1,
        "events": [
            {"status": "processed", "error_message": "", "warning_message": ""},
            {"status": "deduplicated", "error_message": "", "warning_message": ""},
            {"status": "failed", "error_message": "event_time is too old", "warning_message": ""},
        ],
    }
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=200, body=answer))
        config = {
            "ad_account_id": "549755885175",
            "access_token": TOKEN,
            "api_url": api.url,
            "summary_path": str(tmp_path / "summary.json"),
            "streams": {"orders": CHECKOUT},
        }
        lines = [schema_line(), *(record_line("orders", i) for i in range(3)), state_line(3)]
        result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    stream = json.loads((tmp_path / "summary.json").read_text())["streams"]["orders"]
    assert stream["pinterest_statuses"] == {"deduplicated": 1}
    assert (stream["processed"], stream["failed_at_pinterest"]) == (1, 1)
    assert "stream 'orders' Pinterest status 1 x: deduplicated" in result.stderr
    dead = (tmp_path / "dead-letter.jsonl").read_text().splitlines()
    assert len(dead) == 1
    assert "event_time is too old" in dead[0]
    assert result.states[-1] == 3
