"""Golden input-to-request fixtures: a Singer file in, the exact request bodies and
dead-letter lines out (dry run, so the bodies are byte-for-byte what would be sent; each
dry-run line also names its ad account beside the body).

Times in the fixtures are relative, because Pinterest takes only the last 7 days:
``"@now-N"`` is an ISO time N seconds ago, ``"@epoch-N"`` and ``"@epoch-ms-N"`` are epoch
seconds or milliseconds; in expected files ``"@t-N"`` is the event_time N seconds ago.
Run with ``UPDATE_GOLDEN=1`` to rewrite the expected files after a deliberate change
(the run then fails on purpose, so a regeneration can never pass as a test run), then
review the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.cli import run_target
from tests.pinterest_schema import load_request_validator

GOLDEN = Path(__file__).parent / "data" / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.singer").exists())


def render_input(text: str, now: int) -> str:
    def iso(m: re.Match) -> str:
        moment = dt.datetime.fromtimestamp(now - int(m.group(1)), tz=dt.timezone.utc)
        return '"' + moment.isoformat().replace("+00:00", "Z") + '"'

    text = re.sub(r'"@now-(\d+)"', iso, text)
    text = re.sub(r'"@epoch-ms-(\d+)"', lambda m: str((now - int(m.group(1))) * 1000), text)
    return re.sub(r'"@epoch-(\d+)"', lambda m: str(now - int(m.group(1))), text)


def relative(lines: list[dict], now: int) -> list[dict]:
    """Replace event times by ``@t-N`` and drop the timestamp of rejection."""

    def fix(event: dict | None) -> None:
        if event and isinstance(event.get("event_time"), int):
            event["event_time"] = f"@t-{now - event['event_time']}"

    for line in lines:
        for event in line.get("data", []):
            fix(event)
        if "rejected_at" in line:
            del line["rejected_at"]
            fix(line.get("event"))
    return lines


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path):
    folder = GOLDEN / case
    now = int(time.time())
    config = json.loads((folder / "config.json").read_text())
    config["dry_run"] = True
    lines = render_input((folder / "input.singer").read_text(), now).splitlines()
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-3000:]

    requests = relative(read_jsonl(tmp_path / "dry-run.jsonl"), now)
    dead = relative(read_jsonl(tmp_path / "dead-letter.jsonl"), now)
    states = result.states

    validator = load_request_validator()
    if validator is not None:
        raw = read_jsonl(tmp_path / "dry-run.jsonl")
        bodies = [{k: v for k, v in line.items() if k != "ad_account_id"} for line in raw]
        assert [e.message for body in bodies for e in validator.iter_errors(body)] == []

    if os.environ.get("UPDATE_GOLDEN"):
        for name, data in (
            ("expected_requests.jsonl", requests),
            ("expected_dead_letter.jsonl", dead),
        ):
            (folder / name).write_text(
                "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in data)
            )
        (folder / "expected_state.json").write_text(
            json.dumps(states[-1] if states else None) + "\n"
        )
        pytest.fail(
            f"{folder.name}: expected files rewritten (UPDATE_GOLDEN); review the diff, "
            "then run again without UPDATE_GOLDEN"
        )
    assert requests == read_jsonl(folder / "expected_requests.jsonl")
    assert dead == read_jsonl(folder / "expected_dead_letter.jsonl")
    assert (states[-1] if states else None) == json.loads(
        (folder / "expected_state.json").read_text()
    )
