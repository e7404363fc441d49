"""The CLI end to end: Singer messages in, events at a real local HTTP server, STATE out."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path

import pytest

from target_pinterest_conversions.conversion.checks import TOO_OLD as _TOO_OLD
from tests.cli import run_target, start_target
from tests.fake_pinterest import FakePinterest, Scripted
from tests.shopify import EXAMPLE_MAPPING, make_order, orders_schema, singer_lines

TOO_OLD = _TOO_OLD["api"]

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"

SCHEMA = orders_schema()
needs_schema = pytest.mark.skipif(SCHEMA is None, reason="tap-shopify orders schema unavailable")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def config(api: FakePinterest, **extra: object) -> dict:
    return {
        "ad_account_id": ACCOUNT,
        "access_token": TOKEN,
        "api_url": api.url,
        "max_tries": 3,
        "streams": {"orders": EXAMPLE_MAPPING},
        **extra,
    }


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_no_secrets_or_pii(text: str, orders: list[dict]) -> None:
    assert TOKEN not in text
    for order in orders:
        assert order["email"].strip() not in text
        assert order["email"].strip().lower() not in text
        assert order["phone"] not in text


@needs_schema
def test_shopify_orders_are_delivered_once_with_correct_types_and_hashes(tmp_path):
    """The issue's done-when: tap-shopify orders, example config, schema-checking server."""
    n = 2345
    lines = singer_lines(n, SCHEMA, state_every=100)
    with FakePinterest(token=TOKEN) as api:
        result = run_target(tmp_path, config(api), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.errors == []

    ids = api.accepted_ids()
    assert len(ids) == n
    assert sorted(ids) == sorted(f"gid://shopify/Order/{1_000_000 + i}" for i in range(n))
    assert all(len(r.events) <= 1000 for r in api.requests)
    assert all(r.query == {} for r in api.requests)

    # The last STATE on stdout is the input's last STATE, and stdout holds only STATE.
    final_state = json.loads(lines[-1])["value"]
    assert result.states[-1] == final_state

    events = {e["event_id"]: e for e in api.all_events()}
    first = events["gid://shopify/Order/1000000"]
    assert isinstance(first["event_time"], int)
    assert first["event_name"] == "checkout"
    assert first["action_source"] == "web"
    custom = first["custom_data"]
    assert custom["value"] == "12.3"
    assert custom["currency"] == "USD"
    assert custom["order_id"] == "#1000"
    assert custom["num_items"] == 1
    assert custom["contents"] == [
        {
            "id": "gid://shopify/Product/100",
            "item_price": "12.3",
            "quantity": 1,
            "item_name": "Product 0",
        },
    ]
    user = first["user_data"]
    assert user["em"] == [sha("jane.doe0@example.com")]
    assert user["ph"] == [sha("14155550000")]
    assert user["fn"] == [sha("jane")]
    assert user["ln"] == [sha("doe")]
    assert user["ct"] == [sha("sanfrancisco")]
    assert user["st"] == [sha("ca")]
    assert user["zp"] == [sha("94107")]
    assert user["country"] == [sha("us")]
    assert user["external_id"] == [sha("gid://shopify/Customer/0")]
    assert user["client_ip_address"] == "203.0.113.0"
    third = events["gid://shopify/Order/1000002"]
    assert third["user_data"]["em"] == [sha("tom.obrien2@example.co.uk")]
    assert third["user_data"]["zp"] == [sha("sw1a2aa")]
    assert third["custom_data"]["value"] == "81.8"  # 12.30 + 13.30 * 2 + 14.30 * 3

    orders = [make_order(i, dt.datetime.now(dt.timezone.utc)) for i in range(n)]
    assert_no_secrets_or_pii(result.stdout + result.stderr, orders)
    dead = tmp_path / "dead-letter.jsonl"
    assert_no_secrets_or_pii(dead.read_text() if dead.exists() else "", orders)


@needs_schema
@pytest.mark.parametrize("parallel", [1, 4])
def test_state_is_written_only_after_the_events_before_it_were_accepted(tmp_path, parallel):
    lines = singer_lines(400, SCHEMA, state_every=25)
    with FakePinterest(token=TOKEN, delay=0.05) as api:
        proc = start_target(
            tmp_path, config(api, batch_size_rows=50, max_parallel_requests=parallel)
        )
        seen: list[tuple[dict, set[str]]] = []

        def read_stdout() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                seen.append((json.loads(line), set(api.accepted_ids())))

        reader = threading.Thread(target=read_stdout)
        reader.start()
        proc.stdin.write("\n".join(lines) + "\n")  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=120)
        reader.join(timeout=10)
        stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert proc.returncode == 0, stderr[-3000:]
    # STATE comes promptly after each delivered batch, not only at the end of input;
    # with parallel requests, batches that finish together give one STATE.
    assert len(seen) >= (8 if parallel == 1 else 2)
    for state, accepted_then in seen:
        n = state["bookmarks"]["orders"]["n"]
        expected = {f"gid://shopify/Order/{1_000_000 + i}" for i in range(n)}
        assert expected <= accepted_then, f"STATE n={n} written before its events were accepted"
    assert seen[-1][0] == json.loads(lines[-1])["value"]


@needs_schema
def test_rejected_token_stops_with_a_clear_message_and_no_state(tmp_path):
    lines = singer_lines(30, SCHEMA, state_every=10)
    with FakePinterest(token="another-token") as api:
        result = run_target(tmp_path, config(api), lines)
    assert result.returncode == 3
    assert "access token was rejected (401)" in result.stderr
    assert "check access_token" in result.stderr
    assert result.stdout == ""
    assert TOKEN not in result.stderr
    assert "Traceback" not in result.stderr


@needs_schema
def test_events_failed_by_pinterest_are_dead_lettered_with_its_message(tmp_path):
    lines = singer_lines(20, SCHEMA, state_every=20)
    with FakePinterest(token=TOKEN) as api:
        api.fail_ids = {
            "gid://shopify/Order/1000003": "Invalid event_timestamp parameter.",
            "gid://shopify/Order/1000007": "Invalid currency.",
        }
        result = run_target(tmp_path, config(api), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.requests[0].status == 422
    dead = read_lines(tmp_path / "dead-letter.jsonl")
    assert {d["key"]["id"] for d in dead} == {
        "gid://shopify/Order/1000003",
        "gid://shopify/Order/1000007",
    }
    assert {d["reason"] for d in dead} == {
        "Pinterest: Invalid event_timestamp parameter.",
        "Pinterest: Invalid currency.",
    }
    assert all(d["stage"] == "pinterest" and d["event"]["user_data"]["em"] for d in dead)
    assert "2 failed at Pinterest" in result.stderr
    assert result.states[-1] == {"bookmarks": {"orders": {"n": 20}}}


@needs_schema
def test_invalid_records_are_dead_lettered_and_the_rest_delivered(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = singer_lines(10, SCHEMA, state_every=10, now=now)
    old = make_order(100, now - dt.timedelta(days=8))
    future = make_order(101, now + dt.timedelta(hours=2))
    no_match = make_order(102, now - dt.timedelta(minutes=5))
    no_match.update(email=None, clientIp=None)
    bad_value = make_order(103, now - dt.timedelta(minutes=5))
    bad_value["subtotalLineItemsQuantity"] = "many"
    extra = [
        json.dumps({"type": "RECORD", "stream": "orders", "record": r}, default=float)
        for r in (old, future, no_match, bad_value)
    ]
    with FakePinterest(token=TOKEN) as api:
        result = run_target(tmp_path, config(api), lines[:-1] + extra + lines[-1:])
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(api.accepted_ids()) == 10
    dead = {d["key"]["id"]: d for d in read_lines(tmp_path / "dead-letter.jsonl")}
    assert dead["gid://shopify/Order/1000100"]["reason"] == TOO_OLD
    assert dead["gid://shopify/Order/1000101"]["reason"] == "event_time is in the future"
    assert dead["gid://shopify/Order/1000102"]["reason"].startswith("user_data has no match key")
    assert "subtotalLineItemsQuantity" in dead["gid://shopify/Order/1000103"]["reason"]
    assert "many" not in dead["gid://shopify/Order/1000103"]["reason"]
    assert "4 dead-lettered locally" in result.stderr
    assert result.states[-1] == {"bookmarks": {"orders": {"n": 10}}}
    text = (tmp_path / "dead-letter.jsonl").read_text()
    assert_no_secrets_or_pii(text, [old, future, bad_value])


def test_unmapped_streams_ignore_skips_them_with_one_warning(tmp_path):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "customers", "schema": schema, "key_properties": ["id"]}
        )
    ]
    lines += [
        json.dumps({"type": "RECORD", "stream": "customers", "record": {"id": i}}) for i in range(5)
    ]
    lines.append(json.dumps({"type": "STATE", "value": {"customers": 5}}))
    with FakePinterest(token=TOKEN) as api:
        result = run_target(tmp_path, config(api, unmapped_streams="ignore"), lines)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("'customers' is not listed in the `streams` setting") == 1
    assert api.requests == []
    assert result.states == [{"customers": 5}]


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"access_token": None}, "access_token"),
        ({"ad_account_id": "act_123"}, "ad_account_id"),
        (
            {"streams": {"orders": {**EXAMPLE_MAPPING, "action_source": "email"}}},
            "streams.orders.action_source",
        ),
        (
            {"streams": {"orders": {**EXAMPLE_MAPPING, "user_data": {"email": "email"}}}},
            "streams.orders.user_data.email",
        ),
        ({"batch_size_rows": 5000}, "batch_size_rows"),
    ],
)
def test_bad_config_fails_before_reading_input_and_names_the_setting(tmp_path, change, setting):
    cfg = {"ad_account_id": ACCOUNT, "access_token": TOKEN, "streams": {"orders": EXAMPLE_MAPPING}}
    cfg.update(change)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    # stdin is left open: a target that read it before checking its config would hang.
    proc = start_target(tmp_path, cfg)
    try:
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert code == 2
    assert setting in stderr
    assert TOKEN not in stderr


@needs_schema
def test_dry_run_writes_the_exact_bodies_and_uses_no_network(tmp_path):
    lines = singer_lines(1500, SCHEMA, state_every=500)
    cfg = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        # Nothing listens here: any network use would fail the run.
        "api_url": "http://127.0.0.1:9",
        "streams": {"orders": EXAMPLE_MAPPING},
    }
    result = run_target(tmp_path, cfg, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    bodies = read_lines(tmp_path / "dry-run.jsonl")
    assert [len(b["data"]) for b in bodies] == [1000, 500]
    assert result.states[-1] == {"bookmarks": {"orders": {"n": 1500}}}


@needs_schema
def test_transient_errors_are_retried_honouring_retry_after(tmp_path):
    lines = singer_lines(10, SCHEMA, state_every=10)
    with FakePinterest(token=TOKEN) as api:
        api.script.extend(
            [
                Scripted(
                    status=429,
                    body={"code": 8, "message": "rate limited"},
                    headers={"Retry-After": "1"},
                ),
                Scripted(
                    status=503,
                    body={"code": 4197, "message": "ramped down"},
                    headers={"Retry-After": "0"},
                ),
            ],
        )
        result = run_target(tmp_path, config(api), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r.status for r in api.requests] == [429, 503, 200]
    # Retry-After 1 measured at the server, between the 429's arrival and the next
    # request's: a slow start-up under load cannot make up for a retry sent too early.
    assert api.arrivals[1] - api.arrivals[0] >= 1.0
    assert len(set(api.accepted_ids())) == 10
    assert "retrying in 1.0s" in result.stderr


@needs_schema
def test_exhausted_retries_exit_non_zero_without_state_past_undelivered(tmp_path):
    lines = singer_lines(10, SCHEMA, state_every=5)
    with FakePinterest(token=TOKEN) as api:
        api.script.extend(
            [
                Scripted(
                    status=503, body={"code": 4197, "message": "down"}, headers={"Retry-After": "0"}
                )
            ]
            * 3
        )
        result = run_target(tmp_path, config(api, max_tries=3), lines)
    assert result.returncode == 4
    assert "gave up after 3 tries" in result.stderr
    assert result.stdout == ""
