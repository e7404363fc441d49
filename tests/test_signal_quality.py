"""Signal quality: the share of sent events carrying each match signal, in every run.

Counted by Pinterest's Event Quality Score names (plus the phone), shown in the summary
file and as the last log lines' table, and held to ``min_signal_coverage`` floors that
warn or fail (exit 7) as ``signal_coverage_action`` says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from target_pinterest_conversions.conversion.event import derive_from_contents
from target_pinterest_conversions.pinterest.signals import (
    OTHER_EVENT_NAMES,
    SIGNALS,
    counted_name,
    signal_mask,
)
from tests.cli import run_target
from tests.singer import CHECKOUT, record_line, schema_line, state_line

BASE = {"type": "web", "event_id": "e1"}

ONE_SIGNAL_EVENTS = {
    "hashed_email": {"user_data": {"em": ["a" * 64]}},
    "hashed_phone": {"user_data": {"ph": ["b" * 64]}},
    "hashed_maid": {"user_data": {"hashed_maids": ["c" * 64]}},
    "ip_address": {"user_data": {"client_ip_address": "203.0.113.7"}},
    "user_agent": {"user_data": {"client_user_agent": "Mozilla/5.0"}},
    "click_id_epik": {"user_data": {"click_id": "dj0yJnU9"}},
    "advertiser_external_id": {"user_data": {"external_id": ["d" * 64]}},
    "order_id": {"custom_data": {"order_id": "1001"}},
    "order_value": {"custom_data": {"value": "12.5"}},
    "product_id": {"custom_data": {"content_ids": ["sku-1"]}},
    "source_url": {"event_source_url": "https://shop.example/checkout"},
}
"""For every signal but the event id (which every event carries), an event with it alone."""


@pytest.mark.parametrize("signal", sorted(ONE_SIGNAL_EVENTS))
def test_each_signal_is_read_from_its_own_field(signal):
    event = {"event_name": "checkout", "event_id": "e1", **ONE_SIGNAL_EVENTS[signal]}
    bits = {name for bit, name in enumerate(SIGNALS) if signal_mask(event) >> bit & 1}
    assert bits == {signal, "external_event_id"}


def test_every_signal_has_a_field_here_and_an_event_without_any_has_none():
    assert set(ONE_SIGNAL_EVENTS) | {"external_event_id"} == set(SIGNALS)
    assert signal_mask({"event_name": "checkout", "user_data": {}, "custom_data": {}}) == 0


def test_a_product_id_counts_from_content_ids_which_the_builder_derives_from_contents():
    custom_data = {"contents": [{"quantity": 1}, {"id": "sku-2"}]}
    derive_from_contents(custom_data)
    assert signal_mask({"custom_data": custom_data}) == 1 << SIGNALS.index("product_id")
    without_ids = {"contents": [{"quantity": 1}]}
    derive_from_contents(without_ids)
    assert signal_mask({"custom_data": without_ids}) == 0


def test_events_of_one_shape_share_a_mask_and_others_get_their_own():
    first = {"event_id": "1", "user_data": {"em": ["x"]}, "custom_data": {"value": "1"}}
    second = {"event_id": "2", "user_data": {"em": ["y"]}, "custom_data": {"value": "2"}}
    other = {"event_id": "3", "user_data": {"ph": ["z"]}, "custom_data": {"value": "3"}}
    assert signal_mask(first) == signal_mask(second) != signal_mask(other)
    assert signal_mask(other) >> SIGNALS.index("hashed_phone") & 1


def test_names_other_than_pinterests_are_counted_together():
    assert counted_name({"event_name": "checkout"}) == "checkout"
    assert counted_name({"event_name": "Order Refunded"}) == OTHER_EVENT_NAMES


def _lines(total: int, without_email: int) -> list[str]:
    lines = [schema_line()]
    lines += [
        record_line("orders", i, email=None if i < without_email else f"b{i}@example.com")
        for i in range(total)
    ]
    return [*lines, state_line({"done": total})]


# With an IP address and a user agent, an order without an email is still an event.
WITH_ID = {
    **CHECKOUT,
    "user_data": {
        "em": "email",
        "external_id": "id",
        "client_ip_address": {"const": "203.0.113.9"},
        "client_user_agent": {"const": "Mozilla/5.0"},
    },
}


def _config(tmp_path: Path, **settings: object) -> dict:
    return {
        "ad_account_id": "549755885175",
        "dry_run": True,
        "summary_path": str(tmp_path / "summary.json"),
        "streams": {"orders": WITH_ID},
        **settings,
    }


@pytest.mark.cli
def test_the_summary_and_the_last_log_lines_show_each_signals_share(tmp_path):
    result = run_target(tmp_path, _config(tmp_path), _lines(8, without_email=2))
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    quality = summary["streams"]["orders"]["signal_quality"]
    assert quality["checkout"]["events"] == 8
    assert quality["checkout"]["hashed_email"] == 0.75
    assert quality["checkout"]["external_event_id"] == 1.0
    assert quality["checkout"]["advertiser_external_id"] == 1.0
    assert quality["checkout"]["ip_address"] == quality["checkout"]["user_agent"] == 1.0
    assert quality["checkout"]["hashed_phone"] == 0.0
    assert set(quality["checkout"]) == {"events", *SIGNALS}
    log = result.stderr.splitlines()
    table = next(i for i, line in enumerate(log) if "Signal quality of stream 'orders'" in line)
    assert log[table + 1].split("| ")[-1].split() == ["signal", "checkout", "(8)"]
    rows = {line.split("| ")[-1].split()[0]: line.split()[-1] for line in log[table + 2 :]}
    assert rows["hashed_email"] == "0.75"
    assert rows["source_url"] == "0.00"


@pytest.mark.cli
def test_a_share_under_its_floor_warns_by_default_and_the_run_succeeds(tmp_path):
    config = _config(tmp_path, min_signal_coverage={"hashed_email": 0.8})
    result = run_target(tmp_path, config, _lines(8, without_email=2))
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "Signal coverage:" in line]
    assert len(warnings) == 1
    assert "stream 'orders', checkout events: hashed_email on 0.75 of 8" in warnings[0]
    assert "min_signal_coverage.hashed_email 0.8" in warnings[0]
    assert json.loads(result.stdout.splitlines()[-1]) == {"done": 8}


@pytest.mark.cli
def test_a_share_under_its_floor_fails_with_exit_7_after_delivering_everything(tmp_path):
    config = _config(
        tmp_path, min_signal_coverage={"hashed_email": 0.8}, signal_coverage_action="fail"
    )
    result = run_target(tmp_path, config, _lines(8, without_email=2))
    assert result.returncode == 7, result.stderr[-2000:]
    assert "hashed_email on 0.75 of 8, under min_signal_coverage.hashed_email 0.8" in (
        result.stderr
    )
    # Everything was delivered and its STATE written before the check.
    assert json.loads(result.stdout.splitlines()[-1]) == {"done": 8}
    assert len((tmp_path / "dry-run.jsonl").read_text().splitlines()) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 7


@pytest.mark.cli
def test_a_share_at_its_floor_passes(tmp_path):
    config = _config(
        tmp_path, min_signal_coverage={"hashed_email": 0.75}, signal_coverage_action="fail"
    )
    result = run_target(tmp_path, config, _lines(8, without_email=2))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Signal coverage:" not in result.stderr


@pytest.mark.cli
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"min_signal_coverage": {"hashed_emial": 0.8}},
            "min_signal_coverage.hashed_emial: not a match signal",
        ),
        (
            {"min_signal_coverage": {"hashed_email": 1.5}},
            "min_signal_coverage.hashed_email: must be a number from 0 to 1",
        ),
        ({"min_signal_coverage": {"hashed_email": True}}, "min_signal_coverage.hashed_email: "),
        ({"signal_coverage_action": "stop"}, "signal_coverage_action: must be one of warn, fail"),
    ],
)
def test_bad_floors_stop_before_any_input_naming_the_setting(tmp_path, settings, message):
    result = run_target(tmp_path, _config(tmp_path, **settings), ["not json"])
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr


@pytest.mark.cli
def test_an_unknown_signal_name_gets_the_nearest_one(tmp_path):
    config = _config(tmp_path, min_signal_coverage={"hashed_emial": 0.8})
    result = run_target(tmp_path, config, [])
    assert "did you mean 'hashed_email'" in result.stderr


@pytest.mark.cli
def test_event_names_taken_from_records_are_never_shown(tmp_path):
    mapping = {**CHECKOUT, "event_name_from": "kind", "event_name_fallback": "as_is"}
    config = _config(tmp_path, streams={"orders": mapping})
    lines = [schema_line(), record_line("orders", 1, kind="Secret Kind Of Order")]
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = (tmp_path / "summary.json").read_text()
    assert OTHER_EVENT_NAMES in json.loads(summary)["streams"]["orders"]["signal_quality"]
    assert "Secret Kind" not in summary
    assert "Secret Kind" not in result.stderr
