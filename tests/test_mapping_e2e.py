"""Mapping features through the CLI: presets, tricky identifiers, schema checks, item events."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from tests.cli import run_target
from tests.fake_pinterest import FakePinterest
from tests.pinterest_schema import request_schema
from tests.shopify import EXAMPLE_MAPPING, make_order, orders_schema, singer_lines

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
SCHEMA = orders_schema()
needs_schema = pytest.mark.skipif(SCHEMA is None, reason="tap-shopify orders schema unavailable")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def dry_run(
    tmp_path, streams: dict, lines: list[str], **extra
) -> tuple[list[dict], list[dict], object]:
    cfg = {"ad_account_id": ACCOUNT, "dry_run": True, "streams": streams, **extra}
    result = run_target(tmp_path, cfg, lines)
    bodies = tmp_path / "dry-run.jsonl"
    dead = tmp_path / "dead-letter.jsonl"
    events = [
        e
        for line in (bodies.read_text().splitlines() if bodies.exists() else [])
        for e in json.loads(line)["data"]
    ]
    rejected = [json.loads(x) for x in (dead.read_text().splitlines() if dead.exists() else [])]
    return events, rejected, result


@needs_schema
def test_preset_alone_gives_the_same_events_as_the_explicit_mapping(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = singer_lines(300, SCHEMA, state_every=100, now=now)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    explicit, _, r1 = dry_run(tmp_path / "a", {"orders": EXAMPLE_MAPPING}, lines)
    preset, _, r2 = dry_run(tmp_path / "b", {"orders": {"preset": "tap-shopify/orders"}}, lines)
    assert r1.returncode == 0, r1.stderr[-2000:]
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert len(explicit) == 300
    assert preset == explicit


@needs_schema
def test_preset_against_a_real_pinterest_shaped_server(tmp_path):
    lines = singer_lines(50, SCHEMA, state_every=25)
    with FakePinterest(token=TOKEN) as api:
        cfg = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "streams": {"orders": {"preset": "tap-shopify/orders"}},
        }
        result = run_target(tmp_path, cfg, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    assert api.errors == []
    assert len(set(api.accepted_ids())) == 50
    assert result.states[-1] == {"bookmarks": {"orders": {"n": 50}}}


@needs_schema
def test_tricky_identifiers_hash_to_what_pinterest_rules_give(tmp_path):
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)
    base = make_order(0, now)
    cases = []
    # National US phone, state name, country name, ZIP+4, pre-hashed upper-case email.
    a = dict(base, id="A", email=sha("pre@example.com").upper(), phone="(415) 555-0123")
    a["billingAddress"] = dict(
        base["billingAddress"],
        provinceCode="California",
        countryCodeV2="United States",
        zip="94107-1234",
        firstName="  Zoë ",
        lastName="Ñúñez",
        city="San José",
    )
    cases.append(a)
    # UK national phone and postcode, country by alpha-3, accented names.
    b = dict(base, id="B", email="Ana.Conceição@Example.PT", phone="020 7946 0958")
    b["billingAddress"] = dict(
        base["billingAddress"],
        provinceCode=None,
        countryCodeV2="GBR",
        zip="SW1A 2AA",
        firstName="João",
        lastName="Gonçalves",
        city="St. Albans",
    )
    cases.append(b)
    # No country in the record: default_phone_country applies to the national number.
    c = dict(base, id="C", email="c@example.com", phone="030 901820")
    c["billingAddress"] = dict(
        base["billingAddress"], countryCodeV2=None, provinceCode=None, zip="10117"
    )
    cases.append(c)
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": SCHEMA, "key_properties": ["id"]}
        )
    ]
    lines += [
        json.dumps({"type": "RECORD", "stream": "orders", "record": r}, default=float)
        for r in cases
    ]
    events, rejected, result = dry_run(
        tmp_path, {"orders": {"preset": "tap-shopify/orders"}}, lines, default_phone_country="DE"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert rejected == []
    by_id = {e["event_id"]: e["user_data"] for e in events}
    assert by_id["A"]["em"] == [sha("pre@example.com")]
    assert by_id["A"]["ph"] == [sha("14155550123")]
    assert by_id["A"]["st"] == [sha("ca")]
    assert by_id["A"]["country"] == [sha("us")]
    assert by_id["A"]["zp"] == [sha("94107")]
    assert by_id["A"]["fn"] == [sha("zoë")]
    assert by_id["A"]["ln"] == [sha("ñúñez")]
    assert by_id["A"]["ct"] == [sha("sanjosé")]
    assert by_id["B"]["em"] == [sha("ana.conceição@example.pt")]
    assert by_id["B"]["ph"] == [sha("442079460958")]
    assert by_id["B"]["country"] == [sha("gb")]
    assert by_id["B"]["zp"] == [sha("sw1a2aa")]
    assert by_id["B"]["fn"] == [sha("joão")]
    assert by_id["B"]["ct"] == [sha("stalbans")]
    assert by_id["C"]["ph"] == [sha("4930901820")]


@needs_schema
def test_a_path_the_schema_lacks_fails_before_anything_is_sent(tmp_path):
    mapping = json.loads(json.dumps(EXAMPLE_MAPPING))
    mapping["user_data"]["em"] = "emial"
    mapping["contents"]["id"] = "product.idd"
    lines = singer_lines(20, SCHEMA, state_every=10)
    with FakePinterest(token=TOKEN) as api:
        cfg = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "streams": {"orders": mapping},
        }
        result = run_target(tmp_path, cfg, lines)
    assert result.returncode == 2
    assert api.requests == []
    assert result.stdout == ""
    assert "streams.orders.user_data.em: stream 'orders' has no field 'emial'" in result.stderr
    assert "nearest: email" in result.stderr
    assert "streams.orders.contents.id" in result.stderr
    assert "lineItems[].product.idd" in result.stderr
    assert "Traceback" not in result.stderr


def test_item_level_events_and_event_names_from_a_column(tmp_path):
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "event": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"},
            "email": {"type": ["null", "string"]},
            "products": {
                "type": ["null", "array"],
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string"},
                        "price": {"type": "number"},
                        "quantity": {"type": "integer"},
                        "name": {"type": "string"},
                    },
                },
            },
        },
    }
    rows = [
        {
            "id": 1,
            "event": "Order Completed",
            "email": "a@example.com",
            "products": [
                {"sku": "S1", "price": 10.5, "quantity": 2, "name": "Mug"},
                {"sku": "S2", "price": 4, "quantity": 1, "name": "Pen"},
            ],
        },
        {
            "id": 2,
            "event": "Added To Cart",
            "email": "b@example.com",
            "products": [{"sku": "S3", "price": 3, "quantity": 1, "name": "Cup"}],
        },
        {"id": 3, "event": "Email Opened", "email": "c@example.com", "products": []},
    ]
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "events", "schema": schema, "key_properties": ["id"]}
        )
    ]
    for row in rows:
        row["timestamp"] = now.isoformat()
        lines.append(json.dumps({"type": "RECORD", "stream": "events", "record": row}))
    lines.append(json.dumps({"type": "STATE", "value": {"events": 3}}))
    mapping = {
        "event_name_from": "event",
        "event_name_map": ["segment", "converge"],
        "event_name_fallback": "skip",
        "action_source": "web",
        "event_time": "timestamp",
        "event_per_item": "products",
        "user_data": {"em": "email"},
        "custom_data": {"currency": {"const": "EUR"}},
        "contents": {
            "from": "$item",
            "id": "sku",
            "item_price": "price",
            "quantity": "quantity",
            "item_name": "name",
        },
    }
    events, rejected, result = dry_run(tmp_path, {"events": mapping}, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    assert rejected == []
    assert [(e["event_name"], e["custom_data"]["content_ids"]) for e in events] == [
        ("checkout", ["S1"]),
        ("checkout", ["S2"]),
        ("add_to_cart", ["S3"]),
    ]
    assert [e["custom_data"]["value"] for e in events] == ["21", "4", "3"]
    assert [e["custom_data"]["num_items"] for e in events] == [2, 1, 1]
    assert len({e["event_id"] for e in events}) == 3
    assert "1 skipped" in result.stderr
    assert "event name 'Email Opened' is not mapped" in result.stderr
    assert result.states == [{"events": 3}]


@pytest.mark.skipif(request_schema() is None, reason="Pinterest's request schema unavailable")
def test_app_info_and_device_info_reach_pinterest_and_values_beyond_limits_are_counted(tmp_path):
    """Both objects sent schema-valid; a value out of range is left out and counted, and
    its event is still delivered, beside the flat fields, which work as before."""
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    text = {"type": ["null", "string"]}
    number = {"type": ["null", "integer"]}
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "ts": {"type": "string", "format": "date-time"},
            "email": {"type": "string"},
            "app": {
                "type": "object",
                "properties": {"id": text, "version": text, "installed": text, "height": number},
            },
            "device": {
                "type": "object",
                "properties": {
                    "battery": number,
                    "model": text,
                    "form": text,
                    "langs": {"type": ["null", "array"], "items": {"type": "string"}},
                    "tz": text,
                },
            },
        },
    }
    base_app = {"id": "com.acme.app", "version": "7.9", "installed": "2025-02-10T21:17:49Z"}
    base_device = {"battery": 78, "model": "Pixel 9", "form": "Cellphone", "langs": ["en", "de"]}
    rows = [
        {"id": 1, "app": {**base_app, "height": 900}, "device": {**base_device, "tz": "CET"}},
        # Out of range, not in the enum, too long: each left out, the event still sent.
        {"id": 2, "app": {**base_app, "height": 40000}, "device": {**base_device, "battery": 180}},
        {"id": 3, "app": base_app, "device": {**base_device, "form": "phone", "tz": "LONGER"}},
    ]
    lines = [
        json.dumps({"type": "SCHEMA", "stream": "apps", "schema": schema, "key_properties": ["id"]})
    ]
    for row in rows:
        row.update(ts=now.isoformat(), email=f"u{row['id']}@example.com")
        lines.append(json.dumps({"type": "RECORD", "stream": "apps", "record": row}))
    lines.append(json.dumps({"type": "STATE", "value": {"apps": 3}}))
    mapping = {
        "event_name": "app_install",
        "action_source": "app_android",
        "event_time": "ts",
        "event_id": "id",
        "user_data": {"em": "email"},
        "app_info": {
            "app_id": "app.id",
            "app_version": "app.version",
            "install_time": "app.installed",
            "window_height": "app.height",
            "app_store": {"const": "Google Play Store"},
        },
        "device_info": {
            "battery_level": "device.battery",
            "model": "device.model",
            "form_factor": "device.form",
            "languages": "device.langs",
            "timezone_abbr": "device.tz",
            "os_family": {"const": "android"},
        },
        "app_id": "app.id",
        "device_model": "device.model",
    }
    summary = tmp_path / "summary.json"
    with FakePinterest(token=TOKEN) as api:
        cfg = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "streams": {"apps": mapping},
            "summary_path": str(summary),
        }
        result = run_target(tmp_path, cfg, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    assert api.errors == []  # every body valid for Pinterest's schema
    assert sorted(api.accepted_ids()) == ["1", "2", "3"]
    events = {e["event_id"]: e for e in api.all_events()}
    first = events["1"]
    assert first["app_id"] == "com.acme.app"
    assert first["device_model"] == "Pixel 9"
    assert first["app_info"] == {
        "app_id": "com.acme.app",
        "app_store": "Google Play Store",
        "app_version": "7.9",
        "install_time": 1739222269,
        "window_height": 900,
    }
    assert first["device_info"] == {
        "battery_level": 78,
        "form_factor": "cellphone",
        "languages": ["en", "de"],
        "model": "Pixel 9",
        "os_family": "android",
        "timezone_abbr": "CET",
    }
    assert list(first)[-3:] == ["user_data", "app_info", "device_info"]
    assert "window_height" not in events["2"]["app_info"]
    assert "battery_level" not in events["2"]["device_info"]
    assert "form_factor" not in events["3"]["device_info"]
    assert "timezone_abbr" not in events["3"]["device_info"]
    assert events["3"]["device_info"]["model"] == "Pixel 9"
    dropped = json.loads(summary.read_text())["streams"]["apps"]["dropped_values"]
    assert dropped == {
        "app_info.window_height is out of range (Pinterest takes 0 to 30720)": 1,
        "device_info.battery_level is out of range (Pinterest takes 0 to 100)": 1,
        "device_info.form_factor is not one of desktop, laptop, cellphone, tablet, "
        "smartwatch, tv, vr, console, other": 1,
        "device_info.timezone_abbr is longer than 5 characters": 1,
    }
    assert "left out 1 value(s): device_info.battery_level is out of range" in result.stderr
    # Reasons name the field and the limit, never the value.
    assert "40000" not in result.stderr
    assert "LONGER" not in result.stderr
    assert result.states == [{"apps": 3}]
    dead = tmp_path / "dead-letter.jsonl"
    assert not dead.exists() or dead.read_text() == ""
