"""What a merchant expects from ``{"preset": "tap-shopify/orders"}`` alone, through the CLI.

Click ids from the last visit's landing page, the action source from the order's sales
channel, test orders left out and counted, every request checked against Pinterest's
schema by the local server; and the documented overrides.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.cli import run_target
from tests.fake_pinterest import FakePinterest
from tests.shopify import _default, make_order, orders_schema

pytestmark = pytest.mark.cli

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
SCHEMA = orders_schema()
needs_schema = pytest.mark.skipif(SCHEMA is None, reason="tap-shopify orders schema unavailable")
LANDING = "/products/x?utm_source=pinterest&epik=dj0yJnU9abc"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=30)


def _order(n: int, **fields: Any) -> dict[str, Any]:
    return {**make_order(n, NOW), **fields}


def _landing(url: str) -> dict[str, Any]:
    return {"lastVisit": {"landingPage": url, "referrerUrl": None}}


def _lines(orders: list[dict[str, Any]]) -> list[str]:
    schema = {"type": "SCHEMA", "stream": "orders", "schema": SCHEMA, "key_properties": ["id"]}
    lines = [json.dumps(schema)]
    lines += [
        json.dumps({"type": "RECORD", "stream": "orders", "record": o}, default=_default)
        for o in orders
    ]
    lines.append(json.dumps({"type": "STATE", "value": {"bookmarks": {"orders": {"n": 1}}}}))
    return lines


def _run(tmp_path, orders: list[dict[str, Any]], mapping: dict[str, Any] | None = None):
    with FakePinterest(token=TOKEN) as api:
        cfg = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "summary_path": str(tmp_path / "summary.json"),
            "streams": {"orders": mapping or {"preset": "tap-shopify/orders"}},
        }
        result = run_target(tmp_path, cfg, _lines(orders))
    assert result.returncode == 0, result.stderr[-2000:]
    assert api.errors == []  # every body valid for Pinterest's request schema
    assert result.states[-1] == {"bookmarks": {"orders": {"n": 1}}}
    summary = json.loads((tmp_path / "summary.json").read_text())["streams"]["orders"]
    sent = {e["custom_data"]["order_id"]: e for e in api.all_events()}
    return sent, summary


@needs_schema
def test_the_preset_alone_reads_click_ids_channels_and_skips_test_orders(tmp_path):
    orders = [
        _order(
            1, customerJourneySummary=_landing("/products/x?utm_source=pinterest&epik=dj0yJnU9abc")
        ),
        _order(2, sourceName="pos"),
        _order(3, sourceName="iphone"),
        _order(4, sourceName="android"),
        _order(5, sourceName="web"),
        _order(6, sourceName="580111"),  # a sales channel app's id: sold on the web
        _order(7, test=True),
        _order(8, cancelledAt=NOW.isoformat()),  # cancelled orders are sent unless opted out
        _order(9, customerJourneySummary=_landing("https://shop.example/?utm_source=x")),
    ]
    sent, summary = _run(tmp_path, orders)
    assert set(sent) == {f"#{1000 + n}" for n in (1, 2, 3, 4, 5, 6, 8, 9)}
    assert sent["#1001"]["user_data"]["click_id"] == "dj0yJnU9abc"
    assert "click_id" not in sent["#1009"]["user_data"]
    sources = {order_id: e["action_source"] for order_id, e in sent.items()}
    assert sources == {
        "#1001": "web",
        "#1002": "offline",
        "#1003": "app_ios",
        "#1004": "app_android",
        "#1005": "web",
        "#1006": "web",
        "#1008": "web",
        "#1009": "web",
    }
    assert summary["skipped"] == 1
    assert summary["skips"] == {"skip_when: test equals true": 1}
    assert summary["records_read"] == 9
    assert summary["dead_lettered_locally"] == 0


@needs_schema
def test_the_documented_overrides_send_test_orders_and_skip_cancelled_ones(tmp_path):
    orders = [
        _order(1, test=True, sourceName="pos"),
        _order(2, cancelledAt=NOW.isoformat()),
        _order(3, sourceName="pos"),
    ]
    mapping = {
        "preset": "tap-shopify/orders",
        "action_source": "web",  # one's own action source replaces the channel's
        "skip_when": [{"path": "cancelledAt", "is": "present"}],
    }
    sent, summary = _run(tmp_path, orders, mapping)
    assert set(sent) == {"#1001", "#1003"}
    assert {e["action_source"] for e in sent.values()} == {"web"}
    assert summary["skips"] == {"skip_when: cancelledAt is present": 1}
