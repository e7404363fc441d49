"""Several ad accounts from one target, in process: the mapping key, the settings rule,
requests and pauses per account, the summary by account, and one STATE gate for all.

The command-line tests against the local server are in ``test_accounts_cli.py``.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from target_pinterest_conversions.check import NothingChecked, check_connection
from target_pinterest_conversions.context.summary import RunSummary
from target_pinterest_conversions.conversion.reading import StreamReader
from target_pinterest_conversions.delivery.batch import (
    PendingEvent,
    PendingEvents,
    chunks,
    events_of,
)
from target_pinterest_conversions.delivery.client import (
    EventResult,
    PinterestClient,
)
from target_pinterest_conversions.delivery.deadletter import DeadLetterWriter
from target_pinterest_conversions.delivery.pool import Deliveries
from target_pinterest_conversions.delivery.state import StateGate
from target_pinterest_conversions.delivery.throttle import TokenBucket
from target_pinterest_conversions.errors import AuthError, ConfigError
from target_pinterest_conversions.mapping.binding import MappingSchemaError, bind_mapping
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.mapping.spec import MappingConfigError
from target_pinterest_conversions.pinterest.limits import ad_account_id
from target_pinterest_conversions.run import output_for
from target_pinterest_conversions.settings import load_settings

BASE = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "ts",
    "user_data": {"em": "email"},
}
TOKEN = "pina_secret_token_value"
API = "https://api.example.test"


def url(account: str) -> str:
    return f"{API}/v5/ad_accounts/{account}/events"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("549755885175", "549755885175"),
        (" 42 ", "42"),
        (549755885175, "549755885175"),
        ("1" * 18, "1" * 18),
        ("1" * 19, None),
        (10**18, None),
        (-1, None),
        (True, None),
        (1.5, None),
        ("", None),
        ("12a", None),
        ("\uff11\uff12", None),  # digits, but not ASCII ones: Pinterest's pattern is [0-9]
        (None, None),
    ],
)
def test_an_ad_account_id_is_1_to_18_ascii_digits(value, expected):
    assert ad_account_id(value) == expected


@pytest.mark.parametrize(
    ("spec", "const", "paths"),
    [
        ("549755885175", "549755885175", ()),
        (549755885175, "549755885175", ()),
        ({"const": "77"}, "77", ()),
        ({"const": 77}, "77", ()),
        ("account", None, (("account",),)),
        (["brand.account", "account"], None, (("brand", "account"), ("account",))),
    ],
)
def test_a_streams_ad_account_is_its_digits_or_a_value_source(spec, const, paths):
    source = parse_stream_mapping("s", {**BASE, "ad_account_id": spec}).ad_account_id
    assert source is not None
    assert (source.const if source.is_const else None) == const
    assert source.paths == paths


def test_a_stream_without_ad_account_id_or_with_null_uses_the_top_level_one():
    assert parse_stream_mapping("s", BASE).ad_account_id is None
    assert parse_stream_mapping("s", {**BASE, "ad_account_id": None}).ad_account_id is None
    preset = parse_stream_mapping("s", {"preset": "tap-shopify/orders", "ad_account_id": "9"})
    assert preset.ad_account_id is not None
    assert preset.ad_account_id.const == "9"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"const": "12ab"}, "expected the ad account's id (1 to 18 digits)"),
        ("1" * 19, "expected the ad account's id (1 to 18 digits)"),
        (True, "expected the ad account's id (1 to 18 digits)"),
        ({"path": "a"}, "expected the ad account's id (1 to 18 digits)"),
        ("$item.account", "reads the record, not $item"),
        ("a..b", "'a..b' is not a valid dotted path"),
    ],
)
def test_a_bad_ad_account_id_is_a_config_error_naming_the_setting(spec, message):
    with pytest.raises(MappingConfigError) as caught:
        parse_stream_mapping("orders", {**BASE, "ad_account_id": spec})
    assert str(caught.value).startswith("streams.orders.ad_account_id: ")
    assert message in str(caught.value)


def test_a_record_names_its_account_or_is_refused_with_a_reason_that_never_echoes_it():
    mapping = parse_stream_mapping("events", {**BASE, "ad_account_id": ["brand.account", "acct"]})
    reader = StreamReader(mapping)
    assert reader.ad_account({"brand": {"account": " 111 "}}) == ("111", None)
    assert reader.ad_account({"acct": 222}) == ("222", None)
    assert reader.ad_account({}) == (
        None,
        "ad_account_id is missing: the record has no value for streams.events.ad_account_id",
    )
    assert reader.ad_account({"acct": "  "})[1].startswith("ad_account_id is missing")
    for wrong in ("jane@example.com", "1" * 19, 12.5, True, {"id": 1}):
        account, reason = reader.ad_account({"acct": wrong})
        assert account is None
        assert reason == "ad_account_id is not 1 to 18 digits (streams.events.ad_account_id)"


def test_the_account_path_must_be_in_the_stream_schema():
    mapping = parse_stream_mapping("events", {**BASE, "ad_account_id": "acount"})
    schema = {"type": "object", "properties": {"ts": {}, "email": {}, "account": {}}}
    with pytest.raises(MappingSchemaError) as caught:
        bind_mapping(mapping, schema)
    assert "streams.events.ad_account_id: stream 'events' has no field 'acount'" in str(
        caught.value
    )
    assert "nearest: account" in str(caught.value)
    bound, _ = bind_mapping(parse_stream_mapping("events", {**BASE, "ad_account_id": "1"}), schema)
    assert bound.ad_account_id is not None
    assert bound.ad_account_id.const == "1"


def settings(**config: Any):
    return load_settings({"dry_run": True, **config})


def test_the_top_level_account_is_optional_when_every_stream_has_its_own():
    s = settings(
        streams={
            "a": {**BASE, "ad_account_id": "111"},
            "b": {**BASE, "ad_account_id": "account"},
        }
    )
    assert s.ad_account_id is None
    assert s.constant_accounts == ("111",)
    assert s.streams_with_account_field == ("b",)
    assert s.check_accounts == ("111",)


def test_without_a_top_level_account_a_stream_without_its_own_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        settings(streams={"a": {**BASE, "ad_account_id": "111"}, "b": BASE, "c": BASE})
    assert str(caught.value) == (
        "ad_account_id: required unless every stream in streams sets its own "
        "ad_account_id (not set for: b, c)"
    )


@pytest.mark.parametrize("value", ["12ab", " ", "1" * 19, "-5"])
def test_a_top_level_account_that_is_not_digits_is_a_config_error(value):
    with pytest.raises(ConfigError, match="ad_account_id: must be the ad account's id"):
        settings(ad_account_id=value, streams={"a": BASE})


def test_the_mode_line_names_the_accounts_the_streams_send_to():
    one = load_settings(
        {"ad_account_id": "1", "access_token": "t", "streams": {"a": BASE}, "test_mode": True}
    )
    assert output_for(one).mode == "LIVE: api.pinterest.com, ad account 1, test mode"
    several = load_settings(
        {
            "ad_account_id": "1",
            "access_token": "t",
            "streams": {
                "a": BASE,
                "b": {**BASE, "ad_account_id": "2"},
                "c": {**BASE, "ad_account_id": "acct"},
            },
        }
    )
    assert output_for(several).mode == "LIVE: api.pinterest.com, ad accounts 1, 2, per record (c)"
    # The top-level account is not named when no stream sends there, but --check tries it.
    override = load_settings(
        {
            "ad_account_id": "1",
            "access_token": "t",
            "streams": {"a": {**BASE, "ad_account_id": "2"}},
        }
    )
    assert output_for(override).mode == "LIVE: api.pinterest.com, ad account 2"
    assert override.check_accounts == ("1", "2")


def test_check_contacts_nobody_and_fails_when_no_account_is_known_before_the_input(
    requests_mock,
):
    only_records = load_settings(
        {"access_token": "t", "streams": {"events": {**BASE, "ad_account_id": "acct"}}}
    )
    with pytest.raises(NothingChecked) as caught:
        check_connection(only_records, now=1_800_000_000, user_agent="test")
    assert str(caught.value) == (
        "nothing was checked: no ad account is known before the input, so Pinterest was not "
        "contacted; the ad accounts that streams events read from their records are known "
        "only from the input, and were not checked. Set a top-level ad_account_id (the "
        "account of streams without their own) to check the token"
    )
    assert requests_mock.call_count == 0


def test_the_summary_counts_by_ad_account_and_logs_one_line_each(caplog):
    summary = RunSummary()
    summary.update_account("222", events_sent=10, processed=9, failed_at_pinterest=1)
    summary.update_account("111", events_sent=5, processed=5)
    summary.update_account("111", dead_lettered_locally=2)
    data = summary.as_dict()["by_ad_account"]
    assert list(data) == ["111", "222"]
    assert data["111"] == {
        "events_sent": 5,
        "processed": 5,
        "failed_at_pinterest": 0,
        "events_written": 0,
        "dead_lettered_locally": 2,
    }
    with caplog.at_level(logging.INFO):
        summary.log(logging.getLogger("t"))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Summary for ad account 111: 5 events sent, 5 processed, 0 failed at Pinterest, "
        "2 dead-lettered locally",
        "Summary for ad account 222: 10 events sent, 9 processed, 1 failed at Pinterest, "
        "0 dead-lettered locally",
    ]
    assert caplog.records[0].ad_account_id == "111"  # a structured field too


def ok(n: int = 1) -> dict:
    return {"json": {"events": [{"status": "processed"}] * n}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def client(clock: FakeClock | None = None, **kwargs: Any) -> PinterestClient:
    return PinterestClient(
        access_token=TOKEN,
        api_url=API,
        backoff_base=0.01,
        backoff_max=0.05,
        clock=clock or FakeClock(),
        **kwargs,
    )


def test_each_request_goes_to_the_account_it_names(requests_mock):
    requests_mock.post(url("111"), **ok())
    requests_mock.post(url("222"), **ok())
    sender = client(ad_account_id="111")
    sender.send([{"event_id": "a"}], "222")
    sender.send([{"event_id": "b"}])  # the client's default account
    assert [r.url for r in requests_mock.request_history] == [url("222"), url("111")]
    with pytest.raises(ValueError, match="no ad account"):
        client().send([{"event_id": "c"}])


def test_a_429_pauses_its_account_for_every_request_and_no_other(requests_mock, waits):
    clock = FakeClock()
    limited = {"status_code": 429, "json": {"code": 8}, "headers": {"Retry-After": "30"}}
    requests_mock.post(url("111"), [limited, ok(), ok()])
    requests_mock.post(url("222"), **ok())
    sender = client(clock)
    sender.send([{"event_id": "a"}], "111")
    assert waits == [30.0]  # the thread that met the 429 waits Retry-After
    # Another request to that account, 10 s later (as if from another thread), waits
    # for the rest of the pause before its first try; one to another account does not.
    clock.now += 10
    sender.send([{"event_id": "b"}], "222")
    assert waits == [30.0]
    sender.send([{"event_id": "c"}], "111")
    assert waits == [30.0, pytest.approx(20.0)]
    clock.now += 20
    sender.send([{"event_id": "d"}], "111")
    assert len(waits) == 2


def test_a_5xx_retry_also_waits_for_its_accounts_pause(requests_mock, waits):
    clock = FakeClock()
    requests_mock.post(url("111"), [{"status_code": 503, "json": {}}, ok()])
    sender = client(clock)
    sender._pauses.extend("111", 45.0)  # another thread met a 429 meanwhile
    clock.now += 5
    sender.send([{"event_id": "a"}], "111")
    assert waits[0] == pytest.approx(40.0)  # before the first try
    assert waits[1] == pytest.approx(40.0)  # the 5xx backoff is shorter than the pause


def test_a_403_names_the_account_of_the_request(requests_mock):
    requests_mock.post(url("222"), status_code=403, json={"code": 29})
    with pytest.raises(AuthError, match="access to ad account 222 was denied"):
        client(ad_account_id="111").send([{"event_id": "a"}], "222")


def test_test_requests_pass_the_token_bucket_and_real_ones_do_not(requests_mock, waits):
    clock = FakeClock()
    requests_mock.post(url("111"), **ok())
    bucket = TokenBucket(10, clock=clock)
    testing = client(clock, test_mode=True, test_requests=bucket)
    for _ in range(3):
        testing.send([{"event_id": "a"}], "111")
    assert waits == pytest.approx([0.1, 0.2])  # the first goes at once
    live = client(clock)
    for _ in range(3):
        live.send([{"event_id": "a"}], "111")
    assert len(waits) == 2


def test_a_test_mode_client_makes_its_own_bucket_of_10_a_second(requests_mock, waits):
    requests_mock.post(url("111"), **ok())
    testing = client(FakeClock(), test_mode=True)
    for _ in range(11):
        testing.send([{"event_id": "a"}], "111")
    assert waits[-1] == pytest.approx(1.0)


class RecordingSender:
    """A sender that records (account, ids) and can hold one account's requests."""

    dry_run = False

    def __init__(self, hold: str | None = None) -> None:
        self.calls: list[tuple[str | None, list[str]]] = []
        self.hold = hold
        self.release = threading.Event()
        self.lock = threading.Lock()

    def send(
        self, events: Sequence[dict[str, Any]], ad_account_id: str | None = None
    ) -> list[EventResult]:
        if ad_account_id == self.hold:
            self.release.wait(10)
        with self.lock:
            self.calls.append((ad_account_id, [e["event_id"] for e in events]))
        return [
            EventResult("failed", error_message="bad")
            if e["event_id"] == "bad3"
            else EventResult("processed")
            for e in events
        ]

    def close(self) -> None:
        return


def pending(*ids: str) -> list[PendingEvent]:
    return [PendingEvent(event={"event_id": i}, key={"id": i}) for i in ids]


def deliveries(tmp_path, sender: RecordingSender, out: io.StringIO, summary: RunSummary):
    gate = StateGate(out=out)
    pool = Deliveries(
        sender=lambda: sender,
        gate=gate,
        dead_letters=DeadLetterWriter(tmp_path / "dead.jsonl"),
        summary=summary,
        request_size=2,
        parallel=2,
        after_batch=lambda *_: None,
    )
    return gate, pool


def test_a_batch_goes_out_in_requests_of_one_account_each_and_is_counted_per_account(tmp_path):
    sender = RecordingSender()
    summary = RunSummary()
    _, pool = deliveries(tmp_path, sender, io.StringIO(), summary)
    pool.submit("orders", "b1", {"111": pending("o1", "o2", "bad3"), "222": pending("o4")})
    pool.wait()
    pool.close()
    assert sender.calls == [("111", ["o1", "o2"]), ("111", ["bad3"]), ("222", ["o4"])]
    by_account = summary.as_dict()["by_ad_account"]
    assert by_account["111"]["events_sent"] == 3
    assert by_account["111"]["failed_at_pinterest"] == 1
    assert by_account["222"]["processed"] == 1
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [(d["ad_account_id"], d["key"], d["stage"]) for d in dead] == [
        ("111", {"id": "bad3"}, "pinterest")
    ]


def test_one_state_gate_waits_for_every_account_of_the_batches_before_it(tmp_path):
    """STATE is ordinal: a later batch of another account cannot release it."""
    sender = RecordingSender(hold="111")
    out = io.StringIO()
    gate, pool = deliveries(tmp_path, sender, out, RunSummary())
    gate.open_batch("b1", gate.next_seq())
    pool.submit("orders", "b1", {"222": pending("a"), "111": pending("b")})
    gate.offer({"after": 1})
    gate.open_batch("b2", gate.next_seq())
    pool.submit("events", "b2", {"222": pending("c")})
    gate.offer({"after": 2})
    assert not pool.wait_for(0.3)  # account 111 is held back
    assert out.getvalue() == ""
    sender.release.set()
    pool.wait()
    pool.close()
    assert out.getvalue().splitlines()[-1] == '{"after":2}'


def test_pending_events_are_a_sequence_of_pending_event():
    # The batch keeps events and keys as two lists; readers still see PendingEvent items.
    items = PendingEvents()
    for name in "abc":
        items.events.append({"event_id": name})
        items.keys.append({"id": name})
    assert len(items) == 3
    assert list(items) == pending("a", "b", "c")
    assert items[1] == PendingEvent(event={"event_id": "b"}, key={"id": "b"})
    assert list(items[1:]) == pending("b", "c")
    assert [list(part) for part in chunks(items, 2)] == [pending("a", "b"), pending("c")]
    assert (
        events_of(items)
        == events_of(pending("a", "b", "c"))
        == [{"event_id": name} for name in "abc"]
    )
