"""Refusals that must not block a re-run, through the CLI against the local server.

An ad account that Pinterest refuses (403, 404) once the token is known good is
dead-lettered and remembered while the other accounts go on; a bad token still stops the
run with nothing dead-lettered; a request refused as too large (413) is split until each
part fits, and an event too large alone is dead-lettered; no text value longer than
Pinterest's schema allows is ever sent. Each run is repeated over the same input to show
that it completes again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import Result, run_target
from tests.fake_pinterest import FakePinterest
from tests.pinterest_schema import REQUEST_SCHEMA, shared_schema_path
from tests.singer import CHECKOUT, ORDERS_SCHEMA, RECENT, state_line

pytestmark = pytest.mark.cli

TOKEN = "test-token-XYZ"
A, B = "111111111111", "222222222222"
SCHEMA = {
    **ORDERS_SCHEMA,
    "properties": {**ORDERS_SCHEMA["properties"], "account": {"type": ["null", "string"]}},
}


def schema_line(stream: str, schema: dict[str, Any] = SCHEMA) -> str:
    return json.dumps(
        {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["id"]}
    )


def record_line(stream: str, i: int, **fields: object) -> str:
    record = {"id": i, "email": f"buyer{i}@example.com", "ts": RECENT, **fields}
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def account_of(i: int) -> str:
    return A if i % 3 else B


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def messages(stderr: str) -> list[str]:
    return [line.split(" | ", 3)[-1] for line in stderr.splitlines()]


def per_record_lines(total: int = 30, every: int = 10) -> list[str]:
    lines = [schema_line("events")]
    for i in range(total):
        lines.append(record_line("events", i, account=account_of(i)))
        if (i + 1) % every == 0:
            lines.append(state_line({"events": i + 1}))
    return lines


def twice(tmp_path: Path, config: dict[str, Any], lines: list[str]) -> tuple[Result, Result]:
    """Run over ``lines``, then again over the same input in a fresh folder."""
    first = run_target(tmp_path, config, lines)
    again = tmp_path / "again"
    again.mkdir()
    second = run_target(again, {**config, "summary_path": str(again / "summary.json")}, lines)
    return first, second


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (403, "You are not permitted to access that resource."),
        (404, "Ad account not found."),
    ],
)
def test_a_refused_account_is_dead_lettered_remembered_and_the_rerun_completes(
    tmp_path, status, said
):
    """Record 0 goes to B, so the run's very first request is refused, before any other
    succeeded: a test event to A, the other account of the batch, proves the token."""
    streams = {"events": {**CHECKOUT, "ad_account_id": "account"}}
    lines = per_record_lines()
    with FakePinterest(token=TOKEN, ad_account_id=[A, B]) as api:
        api.refuse[B] = status
        config = {
            "access_token": TOKEN,
            "api_url": api.url,
            "max_tries": 2,
            "batch_size_rows": 10,
            "max_parallel_requests": 1,
            "streams": streams,
            "summary_path": str(tmp_path / "summary.json"),
        }
        first, second = twice(tmp_path, config, lines)
        accepted = {
            account: [i for i in ids if i.isdigit()]  # not the test events
            for account, ids in api.accepted_by_account().items()
        }
        requests = [(r.account, r.query, r.status) for r in api.requests]
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]  # the re-run is not blocked
    to_a = sorted(str(i) for i in range(30) if account_of(i) == A)
    to_b = sorted(i for i in range(30) if account_of(i) == B)
    assert sorted(accepted[A], key=int) == sorted(to_a * 2, key=int)
    assert B not in accepted
    # Each run asks B once, with the first of its events; the later ones are not sent.
    real_to_b = [r for r in requests if r[0] == B and not r[1]]
    assert real_to_b == [(B, {}, status)] * 2
    probes = [r for r in requests if r[1]]
    assert probes == [(A, {"test": ["true"]}, 200)] * 2  # one test event per run
    for result in (first, second):
        assert result.states[-1] == {"events": 30}

    dead = read_jsonl(tmp_path / "dead-letter.jsonl")
    assert sorted(d["key"]["id"] for d in dead) == to_b
    assert {d["ad_account_id"] for d in dead} == {B}
    sent = [d for d in dead if d["stage"] == "pinterest"]
    later = [d for d in dead if d["stage"] == "target"]
    assert [d["key"]["id"] for d in sent] == [0, 3, 6, 9]  # the refused request's events
    assert len(later) == len(to_b) - 4
    reason = sent[0]["reason"]
    assert f"ad account {B}" in reason
    assert f"HTTP {status}: {said}" in reason
    assert "check" in reason and "ad_account_id" in reason  # what to fix
    assert later[0]["reason"].startswith("not sent: ")
    assert later[0]["event"]["event_id"] == str(later[0]["key"]["id"])  # ready for a replay

    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["refused_ad_accounts"][B]["status"] == status
    assert report["refused_ad_accounts"][B]["events"] == len(to_b)
    assert report["by_ad_account"][B]["failed_at_pinterest"] == 4
    assert report["by_ad_account"][B]["dead_lettered_locally"] == len(to_b) - 4
    assert report["by_ad_account"][A]["processed"] == len(to_a)
    said_lines = messages(first.stderr)
    assert any(f"Ad account {B} refused" in line for line in said_lines)
    everything = first.stdout + first.stderr + (tmp_path / "dead-letter.jsonl").read_text()
    assert TOKEN not in everything
    assert "buyer0@example.com" not in everything


@pytest.mark.parametrize("refused", [403, 401], ids=["403-everywhere", "401-bad-token"])
def test_a_bad_token_still_stops_the_run_with_exit_3_and_dead_letters_nothing(tmp_path, refused):
    """No request succeeds and the test event to the other account is refused too: it is
    the token, not an account, so nothing is dead-lettered and no STATE passes a record."""
    streams = {"events": {**CHECKOUT, "ad_account_id": "account"}}
    with FakePinterest(token=TOKEN, ad_account_id=[A, B]) as api:
        if refused == 403:
            api.refuse.update({A: 403, B: 403})
        token = TOKEN if refused == 403 else "another-token-ABC"
        config = {
            "access_token": token,
            "api_url": api.url,
            "batch_size_rows": 10,
            "max_parallel_requests": 1,
            "streams": streams,
        }
        first, second = twice(tmp_path, config, per_record_lines())
    for result in (first, second):
        assert result.returncode == 3, result.stderr[-3000:]
        assert result.states == []
    assert read_jsonl(tmp_path / "dead-letter.jsonl") == []
    assert read_jsonl(tmp_path / "again" / "dead-letter.jsonl") == []
    assert token not in first.stderr


def test_a_request_too_large_is_split_and_an_event_too_large_alone_is_dead_lettered(tmp_path):
    schema = {**ORDERS_SCHEMA}
    streams = {"orders": {**CHECKOUT, "custom_data": {"content_name": "kind"}}}
    lines = [schema_line("orders", schema)]
    for i in range(20):
        kind = "x" * 4000 if i == 13 else f"kind {i}"
        lines.append(record_line("orders", i, kind=kind))
    lines.append(state_line({"orders": 20}))
    with FakePinterest(token=TOKEN) as api:
        api.max_body_bytes = 2500  # a few events fit; event 13 alone does not
        config = {
            "access_token": TOKEN,
            "ad_account_id": api.ad_account_id,
            "api_url": api.url,
            "streams": streams,
            "summary_path": str(tmp_path / "summary.json"),
        }
        first, second = twice(tmp_path, config, lines)
        accepted = api.accepted_ids()
        statuses = [r.status for r in api.requests]
    for result in (first, second):
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.states == [{"orders": 20}]
    wanted = sorted(str(i) for i in range(20) if i != 13)
    assert sorted(accepted, key=int) == sorted(wanted * 2, key=int)
    assert 413 in statuses
    dead = read_jsonl(tmp_path / "dead-letter.jsonl")
    assert [(d["key"]["id"], d["stage"]) for d in dead] == [(13, "pinterest")]
    assert "HTTP 413" in dead[0]["reason"]
    assert "too large" in dead[0]["reason"]
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["streams"]["orders"]["failed_at_pinterest"] == 1
    assert report["streams"]["orders"]["processed"] == 19


def _max_lengths(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], int]]:
    """Every ``maxLength`` in Pinterest's request schema, with the path of its field."""
    found = []
    if isinstance(node, dict):
        if "maxLength" in node:
            found.append((path, node["maxLength"]))
        for key, value in node.items():
            found += _max_lengths(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            found += _max_lengths(value, path)
    return found


@pytest.mark.skipif(
    not shared_schema_path().exists(), reason=f"Pinterest's schema is not at {REQUEST_SCHEMA}"
)
def test_no_text_longer_than_pinterests_max_length_is_ever_sent(tmp_path):
    """Limits read from Pinterest's schema file itself: a value at the limit is sent, one
    character more is left out and counted, and the event still goes."""
    schema_file = json.loads(shared_schema_path().read_text(encoding="utf-8"))
    limits = {}
    for path, limit in _max_lengths(schema_file["ConversionEvents"]):
        # .../data/items/properties/<group>/properties/<key>: the fields of an event.
        inner = path[path.index("items") + 1 :]
        assert inner[0] == "properties" and inner[2] == "properties" and len(inner) == 4, path
        limits[(inner[1], inner[3])] = limit
    assert len(limits) >= 17  # the text fields of app_info and device_info (API 5.23.0)
    properties: dict[str, Any] = {"id": {"type": "integer"}, "email": {"type": "string"}}
    properties["ts"] = {"type": "string"}
    mapping: dict[str, Any] = {**CHECKOUT, "action_source": "app_android"}
    for group, key in limits:
        properties[f"{group}__{key}"] = {"type": ["null", "string"]}
        mapping.setdefault(group, {})[key] = f"{group}__{key}"
    lines = [schema_line("apps", {"type": "object", "properties": properties})]
    for i, extra in ((1, 0), (2, 1)):
        record = {f"{g}__{k}": "x" * (n + extra) for (g, k), n in limits.items()}
        lines.append(record_line("apps", i, **record))
    lines.append(state_line({"apps": 2}))
    with FakePinterest(token=TOKEN) as api:
        config = {
            "access_token": TOKEN,
            "ad_account_id": api.ad_account_id,
            "api_url": api.url,
            "streams": {"apps": mapping},
            "summary_path": str(tmp_path / "summary.json"),
        }
        result = run_target(tmp_path, config, lines)
        events = {e["event_id"]: e for e in api.all_events()}
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.errors == []  # every body met Pinterest's schema
    assert sorted(events) == ["1", "2"]
    for (group, key), limit in limits.items():
        assert events["1"][group][key] == "x" * limit
        assert key not in events["2"].get(group, {})
    dropped = json.loads((tmp_path / "summary.json").read_text())["streams"]["apps"]
    assert dropped["dropped_values"] == {
        f"{g}.{k} is longer than {n} characters": 1 for (g, k), n in limits.items()
    }
    assert result.states == [{"apps": 2}]
