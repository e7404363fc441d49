"""Secrets never reach a file or a log, and per-event messages never flood the log.

Each test runs the installed command against a local HTTP server whose answers echo the
``Authorization`` header back (gateways and proxies do) in 4xx, 5xx and 422 bodies and
in per-event ``error_message`` and ``warning_message``, under the SDK's
``StructuredFormatter`` at DEBUG with an extra handler on a named logger that does not
propagate (as a logging config can have), then reads every output and every file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from target_pinterest_conversions.context.summary import LOGGED, MAX_DISTINCT
from tests.cli import Result, run_target
from tests.fake_pinterest import FakePinterest, Scripted

TOKEN = "pina_AbCdEfGhIjKlMnOpQrStUvWx0123456789"
ACCOUNT = "549755885175"
RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)).isoformat()
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": ["null", "string"]},
        "ts": {"type": ["null", "string"]},
    },
}
MAPPING = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email"},
}


def echo(token: str) -> str:
    """What a gateway answers: the request's Authorization header, in several spellings."""
    return (
        f"upstream refused the request; headers: {{'Authorization': 'Bearer {token}'}}; "
        f"token {token} (auth=Bearer%20{token})"
    )


def lines(n: int, stream: str = "leads") -> list[str]:
    out = [
        json.dumps({"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["id"]})
    ]
    for i in range(n):
        rec = {"id": f"lead-{i}", "email": f"buyer{i}@example.com", "ts": RECENT}
        out.append(json.dumps({"type": "RECORD", "stream": stream, "record": rec}))
    out.append(json.dumps({"type": "STATE", "value": {"at": n}}))
    return out


def logging_config(tmp_path: Path) -> Path:
    """Meltano's kind of logging config: the SDK's JSON formatter, root at DEBUG, and a
    handler of its own on a named logger that does not propagate to the root."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "singer_sdk.logging.StructuredFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            },
            "named": {
                "class": "logging.FileHandler",
                "formatter": "structured",
                "filename": str(tmp_path / "named.log"),
            },
        },
        "root": {"level": "DEBUG", "handlers": ["console"]},
        "loggers": {
            "target-pinterest-conversions.client": {
                "level": "DEBUG",
                "handlers": ["named"],
                "propagate": False,
            },
            "target-pinterest-conversions.outcome": {
                "level": "DEBUG",
                "handlers": ["named", "console"],
                "propagate": False,
            },
        },
    }
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(config))
    return path


def results(n: int, *, error: str = "", warning: str = "") -> list[dict[str, str]]:
    status = "failed" if error else "processed"
    return [
        {"status": status, "error_message": error, "warning_message": warning} for _ in range(n)
    ]


def accepted(n: int, warning: str) -> Scripted:
    body = {
        "num_events_received": n,
        "num_events_processed": n,
        "events": results(n, warning=warning),
    }
    return Scripted(status=200, body=body)


def failed(n: int, error: str, message: str) -> Scripted:
    details = {
        "num_events_received": n,
        "num_events_processed": 0,
        "events": results(n, error=error),
    }
    return Scripted(status=422, body={"code": 953, "message": message, "details": details})


def scenarios(token: str) -> dict[str, tuple[list[Scripted], int, dict[str, Any]]]:
    """Per run: the answers, the exit code expected, and settings."""
    said = echo(token)
    retry = {"Retry-After": "0"}
    return {
        # 503 twice (retried), a 200 whose events carry warnings, a 422 whose events failed.
        "retried-warned-failed": (
            [
                Scripted(status=503, body={"code": 4197, "message": said}, headers=retry),
                Scripted(status=503, body={"code": 4197, "message": said}, headers=retry),
                accepted(5, f"warning: {said}"),
                failed(5, f"error: {said}", said),
            ],
            0,
            {},
        ),
        "422-without-details": (
            [Scripted(status=422, body={"code": 953, "message": said})] * 2,
            0,
            {},
        ),
        "401": ([Scripted(status=401, body={"code": 2, "message": said})], 3, {}),
        "400": ([Scripted(status=400, body={"code": 1, "message": said})], 4, {}),
        "503-exhausted": (
            [Scripted(status=503, body={"code": 4197, "message": said}, headers=retry)] * 3,
            4,
            {"max_tries": 3},
        ),
        "dry-run": ([], 0, {"dry_run": True}),
    }


def run_echoing(tmp_path: Path, token: str, name: str) -> tuple[Result, FakePinterest]:
    scripted, code, extra = scenarios(token)[name]
    with FakePinterest(token=token) as api:
        api.script.extend(scripted)
        config = {
            "ad_account_id": ACCOUNT,
            "access_token": token,
            "api_url": api.url,
            "batch_size_rows": 5,
            "max_parallel_requests": 1,
            "max_rejected_ratio": 1,
            "summary_path": str(tmp_path / "summary.json"),
            "streams": {"leads": MAPPING},
            **extra,
        }
        env = {"SINGER_SDK_LOG_CONFIG": str(logging_config(tmp_path))}
        result = run_target(tmp_path, config, lines(10), env=env)
    assert result.returncode == code, result.stderr[-3000:]
    # The run really logged through the SDK's structured formatter, at DEBUG.
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records, result.stderr[-2000:]
    assert any(r["level"] == "debug" for r in records)
    return result, api


def outputs(tmp_path: Path, result: Result) -> dict[str, str]:
    """stdout, stderr and every file the run wrote (the config holds the token by design)."""
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path.name != "config.json":
            texts[path.name] = path.read_text(encoding="utf-8", errors="replace")
    return texts


@pytest.mark.parametrize("name", list(scenarios(TOKEN)))
def test_an_echoed_token_reaches_no_output_and_no_file(tmp_path, name):
    result, api = run_echoing(tmp_path, TOKEN, name)
    texts = outputs(tmp_path, result)
    for where, text in texts.items():
        assert TOKEN not in text, where
        assert TOKEN[5:17] not in text, where  # not even a piece of it (a cut message)
    if name == "dry-run":
        assert not api.requests
        assert "dry-run.jsonl" in texts
        return
    assert api.requests
    if name != "401":  # a 401 is reported in our words only
        # The echoes did reach the target, and were read, masked, and reported.
        assert "[redacted]" in texts["stderr"] + texts.get("named.log", "")
    summary = json.loads(texts["summary.json"])
    if name == "retried-warned-failed":
        assert len(api.requests) == 4
        assert "retrying" in texts["named.log"]  # logged by a logger that does not propagate
        dead = [json.loads(line) for line in texts["dead-letter.jsonl"].splitlines()]
        assert len(dead) == 5
        assert all(d["reason"].startswith("Pinterest: error: upstream refused") for d in dead)
        assert "[redacted]" in dead[0]["reason"]
        stream = summary["streams"]["leads"]
        assert stream["failed_at_pinterest"] == 5
        assert sum(stream["pinterest_warnings"].values()) == 5
    if name in ("400", "503-exhausted"):
        assert "upstream refused" in summary["message"]


def test_a_one_letter_token_does_not_mangle_ordinary_words(tmp_path):
    token = "x"
    said = "box of x-ray max_tries expected x. Authorization: Bearer x; token x"
    clean = "box of x-ray max_tries expected x. Authorization: Bearer [redacted]; token [redacted]"
    with FakePinterest(token=token) as api:
        api.script.extend(
            [
                Scripted(
                    status=503, body={"code": 4197, "message": said}, headers={"Retry-After": "0"}
                ),
                accepted(5, said),
                failed(5, said, said),
            ],
        )
        config = {
            "ad_account_id": ACCOUNT,
            "access_token": token,
            "api_url": api.url,
            "batch_size_rows": 5,
            "max_parallel_requests": 1,
            "max_rejected_ratio": 1,
            "summary_path": str(tmp_path / "summary.json"),
            "streams": {"leads": MAPPING},
        }
        env = {"SINGER_SDK_LOG_CONFIG": str(logging_config(tmp_path))}
        result = run_target(tmp_path, config, lines(10), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    texts = outputs(tmp_path, result)
    for where, text in texts.items():
        assert "Bearer x" not in text, where
        # A mask never sits inside a word: only whole tokens were masked.
        assert not re.search(r"\w\[redacted\]|\[redacted\]\w", text), where
    dead = [json.loads(line) for line in texts["dead-letter.jsonl"].splitlines()]
    assert [d["reason"] for d in dead] == [f"Pinterest: {clean}"] * 5
    summary = json.loads(texts["summary.json"])
    assert summary["streams"]["leads"]["pinterest_warnings"] == {clean: 5}
    messages = [json.loads(line)["message"] for line in texts["stderr"].splitlines()]
    # This target's own wording is intact, "x" included: it is not data.
    assert f"  stream 'leads' rejected 5 x: Pinterest: {clean}" in messages
    assert any(m.startswith("Run succeeded") for m in messages)
    assert f"HTTP 503 {clean}" in texts["named.log"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_key_properties_holding_personal_data_are_written_only_as_hashes(tmp_path):
    schema = {
        "type": "object",
        "properties": {
            "customer": {"type": "object"},
            "email": {"type": "string"},
            "order": {"type": "string"},
            "ts": {"type": "string"},
        },
    }
    mapping = {**MAPPING, "event_id": "order", "user_data": {"em": "customer.email"}}
    people = [
        (
            {"email": "Jane.Secret@Example.com", "name": "Jane Secret", "id": 77},
            "jane.other@example.org",
        ),
        (
            {"email": "Max.Private@Example.com", "name": "Max Private", "id": 78},
            "max.other@example.org",
        ),
    ]
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=9)).isoformat()
    out = [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": "orders",
                "schema": schema,
                "key_properties": ["customer", "email", "order"],
            }
        )
    ]
    for i, (customer, email) in enumerate(people):
        # The first is rejected here (too old), the second fails at Pinterest.
        rec = {
            "customer": customer,
            "email": email,
            "order": f"ORD-{i}",
            "ts": old if i == 0 else RECENT,
        }
        out.append(json.dumps({"type": "RECORD", "stream": "orders", "record": rec}))
    with FakePinterest(token=TOKEN) as api:
        api.fail_ids = {"ORD-1": "Invalid currency."}
        config = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "max_rejected_ratio": 1,
            "streams": {"orders": mapping},
        }
        result = run_target(tmp_path, config, out)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "dead-letter.jsonl").read_text()
    dead = [json.loads(line) for line in text.splitlines()]
    assert [d["stage"] for d in dead] == ["target", "pinterest"]
    for i, ((customer, email), line) in enumerate(zip(people, dead, strict=True)):
        for raw in (customer["email"], customer["name"], email, "Jane", "Secret", "Max"):
            assert raw not in text and raw.lower() not in text
        assert line["key"] == {
            "customer": {
                "email": sha(customer["email"]),
                "name": sha(customer["name"]),
                "id": sha(str(customer["id"])),
            },
            "email": sha(email),
            # An identifier stays readable, to find the source record.
            "order": f"ORD-{i}",
        }


class ManyMessages(FakePinterest):
    """Fails every event with a message of its own, as a Pinterest that embeds ids and
    values in its messages does; every third is processed with a warning of its own."""

    def _answer(self, events: list[dict[str, Any]]) -> tuple[int, Any]:
        out = []
        for event in events:
            n = int(event["event_id"].rsplit("-", 1)[1])
            word = "".join(chr(97 + int(d)) for d in str(n))  # a distinct word, no digits
            if n % 3 == 0:
                out.append(
                    {
                        "status": "processed",
                        "error_message": "",
                        "warning_message": f"Field {word} is not standard",
                    }
                )
            elif n % 3 == 1:
                message = (
                    "Invalid event_timestamp parameter. Given timestamp is in the past. "
                    f"Current timestamp: {1727469267 + n}, Given event_timestamp: {n}"
                )
                out.append({"status": "failed", "error_message": message, "warning_message": ""})
            else:
                message = f"Unknown customer {word} for order '{event['event_id']}'"
                out.append({"status": "failed", "error_message": message, "warning_message": ""})
        processed = sum(r["status"] == "processed" for r in out)
        body = {
            "num_events_received": len(events),
            "num_events_processed": processed,
            "events": out,
        }
        return 422, {"code": 953, "message": "Not all events were processed", "details": body}


def test_per_event_messages_are_counted_by_kind_and_the_log_stays_short(tmp_path):
    n = 50_000
    with ManyMessages(token=TOKEN) as api:
        config = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "max_rejected_ratio": 1,
            "summary_path": str(tmp_path / "summary.json"),
            "streams": {"leads": MAPPING},
        }
        result = run_target(tmp_path, config, lines(n), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    failed_here = sum(1 for i in range(n) if i % 3)
    warned = n - failed_here
    about = [
        line
        for line in result.stderr.splitlines()
        if "Invalid event_timestamp" in line
        or "Unknown customer" in line
        or "is not standard" in line
        or "kinds of message" in line
        or "more than" in line
    ]
    assert len(about) < 100, about[:20]
    assert len(result.stderr.splitlines()) < 300
    # The dead-letter file still has each event, with its exact message.
    dead = (tmp_path / "dead-letter.jsonl").read_text().splitlines()
    assert len(dead) == failed_here
    reasons = {json.loads(line)["reason"] for line in dead}
    assert len(reasons) == failed_here
    assert "Pinterest: Unknown customer be for order 'lead-14'" in reasons
    # The summary counts messages by kind, in a bounded number of entries.
    stream = json.loads((tmp_path / "summary.json").read_text())["streams"]["leads"]
    assert stream["failed_at_pinterest"] == failed_here
    assert sum(stream["reasons"].values()) == failed_here
    assert len(stream["reasons"]) <= MAX_DISTINCT + 1
    timestamp = (
        "Pinterest: Invalid event_timestamp parameter. Given timestamp is in the past. "
        "Current timestamp: <n>, Given event_timestamp: <n>"
    )
    assert stream["reasons"][timestamp] == sum(1 for i in range(n) if i % 3 == 1)
    assert sum(stream["pinterest_warnings"].values()) == warned
    assert len(stream["pinterest_warnings"]) <= MAX_DISTINCT + 1
    # The log names the first kinds of warning, then says the rest are only counted.
    logged_warnings = [line for line in result.stderr.splitlines() if "is not standard" in line]
    assert len(logged_warnings) <= 2 * LOGGED


# The rules, one by one.


@pytest.mark.parametrize(
    ("value", "readable"),
    [
        ("gid://shopify/Order/5008", True),
        (5008, True),
        ("18446744073709551616", True),  # an integer beyond 64 bits, as its digits
        ("9b2f7c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d", True),
        ("ORD-1001", True),
        ("Jane", False),  # no digit: a name, not an id
        ("Jane Doe 2", False),  # spaces: a name or an address
        ("jane2@example.com", False),
        ("+1 415 555 0199", False),
        ("415-555-0199", False),
        ("(415) 555-0199", False),
    ],
)
def test_only_identifiers_stay_readable_in_a_dead_letter_key(value, readable):
    from target_pinterest_conversions.delivery.deadletter import hashed, safe_key

    written = safe_key({"k": value})["k"]
    assert written == (value if readable else hashed(value))


def test_a_digest_in_a_key_stays_and_objects_keep_their_shape_with_every_value_hashed():
    from target_pinterest_conversions.delivery.deadletter import safe_key

    digest = sha("already hashed")
    key = {"em": digest, "c": {"id": 5, "tags": ["a", None], "vip": True}, "none": None}
    assert safe_key(key) == {
        "em": digest,
        "c": {"id": sha("5"), "tags": [sha("a"), None], "vip": True},
        "none": None,
    }


@pytest.mark.parametrize(
    ("message", "template"),
    [
        (
            "Invalid event_timestamp parameter. Current timestamp: 1727469267, "
            "Given event_timestamp: 1678203524",
            "Invalid event_timestamp parameter. Current timestamp: <n>, Given event_timestamp: <n>",
        ),
        (
            "Additional properties are not allowed ('category_name' was unexpected)",
            "Additional properties are not allowed ('category_name' was unexpected)",
        ),
        ("value \"12.50\" of event 'gid://x/1'", "value \"<value>\" of event '<value>'"),
        ("id 9b2f7c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d in v5", "id <id> in v5"),
    ],
)
def test_messages_are_counted_by_template(message, template):
    from target_pinterest_conversions.context.summary import message_template

    assert message_template(message) == template


def test_a_counter_holds_a_bounded_number_of_distinct_messages():
    from target_pinterest_conversions.context.summary import OTHER, RunSummary

    summary = RunSummary()
    firsts = [summary.count("s", "reasons", f"reason {i}") for i in range(MAX_DISTINCT + 50)]
    assert firsts == [True] * MAX_DISTINCT + [False] * 50
    reasons = summary.stats("s").reasons
    assert len(reasons) == MAX_DISTINCT + 1
    assert reasons[OTHER] == 50
