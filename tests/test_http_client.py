"""PinterestClient with requests-mock: request shape, retries, Retry-After, errors, results."""

from __future__ import annotations

import datetime as dt
import email.utils
import json

import pytest
import requests

from target_pinterest_conversions.delivery import client as client_module
from target_pinterest_conversions.delivery.client import (
    DefinedEvents,
    DryRunSender,
    EventResult,
    NotPinterest,
    PinterestClient,
    RequestRejected,
    RetriesExhausted,
    parse_retry_after,
)
from target_pinterest_conversions.errors import AuthError

TOKEN = "pina_secret_token_value"
URL = "https://api.example.test/v5/ad_accounts/123/events"
EVENTS = [{"event_id": "a"}, {"event_id": "b"}]


def client(**kwargs) -> PinterestClient:
    return PinterestClient(
        ad_account_id="123",
        access_token=TOKEN,
        api_url="https://api.example.test/",
        backoff_base=0.01,
        backoff_max=0.05,
        **kwargs,
    )


def ok(events=EVENTS, **overrides):
    results = [{"status": "processed", "error_message": "", "warning_message": ""} for _ in events]
    return {
        "json": {
            "num_events_received": len(events),
            "num_events_processed": len(events),
            "events": results,
            **overrides,
        }
    }


def test_request_shape(requests_mock):
    requests_mock.post(URL, **ok())
    results = client().send(EVENTS)
    request = requests_mock.last_request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"data": EVENTS}
    assert request.qs == {}
    assert results == [EventResult("processed"), EventResult("processed")]


def test_test_mode_adds_the_test_parameter(requests_mock):
    requests_mock.post(URL, **ok())
    client(test_mode=True).send(EVENTS)
    assert requests_mock.last_request.qs == {"test": ["true"]}


def test_per_event_results_from_a_200(requests_mock):
    body = {
        "num_events_received": 2,
        "num_events_processed": 1,
        "events": [
            {"status": "processed", "error_message": None, "warning_message": "Unknown field x"},
            {"status": "failed", "error_message": "Invalid currency", "warning_message": ""},
        ],
    }
    requests_mock.post(URL, json=body)
    assert client().send(EVENTS) == [
        EventResult("processed", "", "Unknown field x"),
        EventResult("failed", "Invalid currency", ""),
    ]


def test_per_event_results_from_a_422(requests_mock):
    details = {
        "num_events_received": 2,
        "num_events_processed": 1,
        "events": [
            {
                "status": "failed",
                "error_message": "Invalid event_timestamp parameter.",
                "warning_message": "",
            },
            {"status": "processed", "error_message": "", "warning_message": ""},
        ],
    }
    requests_mock.post(
        URL, status_code=422, json={"code": 953, "message": "Not all", "details": details}
    )
    results = client().send(EVENTS)
    assert [r.status for r in results] == ["failed", "processed"]
    assert results[0].error_message == "Invalid event_timestamp parameter."
    assert requests_mock.call_count == 1


def test_a_422_without_details_fails_every_event_with_its_message(requests_mock):
    requests_mock.post(URL, status_code=422, json={"code": 953, "message": "Some data invalid"})
    results = client().send(EVENTS)
    assert all(r.status == "failed" for r in results)
    assert results[0].error_message == "HTTP 422: Some data invalid"


def test_429_honours_retry_after_seconds(requests_mock, waits):
    requests_mock.post(
        URL,
        [
            {
                "status_code": 429,
                "json": {"code": 8, "message": "rate"},
                "headers": {"Retry-After": "7"},
            },
            ok(),
        ],
    )
    assert len(client().send(EVENTS)) == 2
    assert waits == [7.0]
    assert requests_mock.call_count == 2


def test_429_honours_retry_after_as_an_http_date(requests_mock, waits):
    when = email.utils.format_datetime(
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30), usegmt=True
    )
    requests_mock.post(URL, [{"status_code": 429, "headers": {"Retry-After": when}}, ok()])
    client().send(EVENTS)
    assert 28 <= waits[0] <= 30


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_are_retried_with_capped_jittered_backoff(requests_mock, waits, status):
    requests_mock.post(URL, [{"status_code": status, "text": "oops"}] * 3 + [ok()])
    assert len(client().send(EVENTS)) == 2
    assert len(waits) == 3
    assert all(0 <= w <= 0.05 for w in waits)


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectTimeout,
        requests.exceptions.ReadTimeout,
        requests.exceptions.ConnectionError,
    ],
)
def test_network_failures_are_retried(requests_mock, waits, exc):
    requests_mock.post(URL, [{"exc": exc}, ok()])
    assert len(client().send(EVENTS)) == 2
    assert len(waits) == 1


def test_retries_are_bounded(requests_mock, waits):
    requests_mock.post(URL, status_code=503, json={"code": 4197, "message": "ramped down"})
    with pytest.raises(RetriesExhausted) as caught:
        client(max_tries=3).send(EVENTS)
    assert requests_mock.call_count == 3
    assert "gave up after 3 tries" in str(caught.value)
    assert "503" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthError, ["401", "access_token"]),
        (403, AuthError, ["403", "ad_account_id"]),
        (404, RequestRejected, ["404", "ad_account_id", "api_url"]),
        (400, RequestRejected, ["400", "Additional properties are not allowed"]),
        (301, RequestRejected, ["redirect", "api_url"]),
    ],
)
def test_errors_a_retry_cannot_fix_stop_at_once_with_what_to_change(
    requests_mock, status, error, words
):
    body = {
        "code": 1,
        "message": "Invalid request: Additional properties are not allowed ('x' was unexpected)",
    }
    requests_mock.post(
        URL, status_code=status, json=body, headers={"Location": "https://elsewhere.test/"}
    )
    with pytest.raises(error) as caught:
        client().send(EVENTS)
    assert requests_mock.call_count == 1
    for word in words:
        assert word in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_a_request_holds_1_to_1000_events():
    with pytest.raises(ValueError, match="1 to 1000"):
        client().send([])
    with pytest.raises(ValueError, match="1 to 1000"):
        client().send([{"event_id": str(i)} for i in range(1001)])


def test_tls_verification_is_on():
    session = requests.Session()
    PinterestClient(ad_account_id="1", access_token=TOKEN, session=session)
    assert session.verify is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("soon", None),
        (None, None),
        ("", None),
        ("99999", 99999.0),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-inf", None),
        ("1e999", None),
        ("-5", 0.0),
        ("Mon, 99 Foo 2026 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_in_the_past_is_zero():
    past = email.utils.format_datetime(dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc), usegmt=True)
    assert parse_retry_after(past) == 0.0


def test_dry_run_writes_the_account_and_exact_body_and_uses_no_network(tmp_path, requests_mock):
    sender = DryRunSender(tmp_path / "out.jsonl", "123")
    assert sender.send(EVENTS) == [EventResult("processed")] * 2
    sender.send(EVENTS[:1], "456")
    sender.close()
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [
        {"ad_account_id": "123", "data": EVENTS},
        {"ad_account_id": "456", "data": EVENTS[:1]},
    ]
    assert requests_mock.call_count == 0


def test_proxies_and_ca_bundle_from_the_environment_are_read_once(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = PinterestClient(ad_account_id="1", access_token="t")
    session = client._session()
    assert session.proxies.get("https") == "http://proxy.example:3128"
    assert session.verify == str(bundle)
    assert session.trust_env is False
    monkeypatch.setenv("NO_PROXY", "api.pinterest.com")
    bypassed = PinterestClient(ad_account_id="1", access_token="t")._session()
    assert "https" not in bypassed.proxies


def test_a_retry_after_longer_than_max_retry_after_ends_the_retries(requests_mock, waits):
    requests_mock.post(URL, status_code=503, headers={"Retry-After": "301"}, json={"message": "x"})
    with pytest.raises(RetriesExhausted) as caught:
        client(max_retry_after=300).send(EVENTS)
    assert requests_mock.call_count == 1
    assert waits == []
    assert "asked to wait 301s" in str(caught.value)
    assert "max_retry_after (300s)" in str(caught.value)


@pytest.mark.parametrize("value", ["nan", "inf", "soon", "-1"])
def test_an_unusable_retry_after_falls_back_to_backoff(requests_mock, waits, value):
    requests_mock.post(URL, [{"status_code": 429, "headers": {"Retry-After": value}}, ok()])
    assert len(client().send(EVENTS)) == 2
    assert len(waits) == 1
    assert 0 <= waits[0] <= 0.05 or (value == "-1" and waits[0] == 0.0)


def test_an_answer_larger_than_the_bound_is_a_transient_error(requests_mock, waits):
    from target_pinterest_conversions.delivery.client import MAX_RESPONSE_BYTES

    huge = b"x" * (MAX_RESPONSE_BYTES + 10)
    requests_mock.post(URL, [{"status_code": 200, "content": huge}, ok()])
    assert len(client().send(EVENTS)) == 2
    assert len(waits) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"status_code": 200, "text": "<html>Welcome to the hotel wifi</html>"},
        {"status_code": 200, "json": ["not", "an", "object"]},
        {"status_code": 204},
    ],
)
def test_a_2xx_that_is_not_pinterests_answer_is_unknown_then_stops(requests_mock, answer):
    from target_pinterest_conversions.delivery.client import UNKNOWN_STATUS, NotPinterest

    requests_mock.post(URL, **answer)
    api = client()
    for _ in range(2):
        results = api.send(EVENTS)
        assert [r.status for r in results] == [UNKNOWN_STATUS] * 2
        assert not results[0].processed
        assert "check api_url" in results[0].error_message
    with pytest.raises(NotPinterest, match=r"3 answers in a row .* check api_url"):
        api.send(EVENTS)


def test_a_good_answer_resets_the_count_of_unreadable_ones(requests_mock):
    html = {"status_code": 200, "text": "<html></html>"}
    requests_mock.post(URL, [html, html, ok(), html, html, ok()])
    api = client()
    statuses = [api.send(EVENTS)[0].status for _ in range(6)]
    assert statuses == ["unknown", "unknown", "processed", "unknown", "unknown", "processed"]


def test_stopping_ends_the_wait_between_tries_at_once(requests_mock):
    import threading
    import time

    from target_pinterest_conversions.delivery.client import DeliveryStopped

    stop = threading.Event()
    requests_mock.post(URL, status_code=503, headers={"Retry-After": "200"}, json={})
    api = client(stop=stop)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(DeliveryStopped):
        api.send(EVENTS)
    # The wait asked for is 200 s: any loaded machine ends it far sooner once stopped.
    assert time.monotonic() - started < 60


ADE_URL = "https://api.example.test/v5/ad_accounts/123/advertiser_defined_events"


def test_advertiser_defined_events_are_read_with_the_token_and_retried_after_a_429(
    requests_mock, waits
):
    items = [
        {"name": "download_picture", "mapped_conversion_type": "PAGE_LOAD"},
        {"name": "share_recipe", "mapped_conversion_type": None},
        {"name": "download_picture", "mapped_conversion_type": None},
    ]
    requests_mock.get(
        ADE_URL,
        [
            {
                "status_code": 429,
                "json": {"code": 8, "message": "rate"},
                "headers": {"Retry-After": "7"},
            },
            {"json": {"items": items}},
        ],
    )
    # A test-mode client (as --check's): the read carries no test=true and no body.
    found = client(test_mode=True).advertiser_defined_events("123")
    assert found == DefinedEvents(("download_picture", "share_recipe"))
    assert waits == [7.0]
    assert requests_mock.call_count == 2
    request = requests_mock.last_request
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Content-Type" not in request.headers
    assert request.qs == {}
    assert request.body is None


def test_a_read_429_beyond_max_retry_after_is_not_waited_for(requests_mock, waits):
    requests_mock.get(ADE_URL, status_code=429, headers={"Retry-After": "301"}, json={})
    with pytest.raises(RetriesExhausted, match=r"more than max_retry_after.*run the check again"):
        client().advertiser_defined_events("123")
    assert waits == []


@pytest.mark.parametrize(
    "answer",
    [
        {"text": "<html>portal</html>", "headers": {"Content-Type": "text/html"}},
        {"json": {"items": {"name": "x"}}},
        {"json": ["download_picture"]},
        {"status_code": 204},
    ],
)
def test_a_read_answer_that_is_not_the_documented_list_is_an_error_not_a_crash(
    requests_mock, answer
):
    requests_mock.get(ADE_URL, **answer)
    with pytest.raises(NotPinterest, match="not Pinterest's list of advertiser-defined events"):
        client().advertiser_defined_events("123")


def test_listed_items_without_a_name_are_counted_and_left_out(requests_mock):
    items = [{"name": "a"}, {"name": ""}, {"name": 5}, "b", {}, None, {"name": "c"}]
    requests_mock.get(ADE_URL, json={"items": items})
    assert client().advertiser_defined_events("123") == DefinedEvents(("a", "c"), unnamed=5)


@pytest.mark.parametrize(
    ("status", "error", "said"),
    [
        (401, AuthError, "the access token was rejected"),
        (403, AuthError, "needs a token with the ads:read scope"),
        (404, RequestRejected, "check ad_account_id and api_url"),
        (400, RequestRejected, "Pinterest refused the request"),
    ],
)
def test_a_refused_read_says_what_to_fix_and_never_echoes_the_token(
    requests_mock, status, error, said
):
    echo = {"code": 29, "message": f"denied for Bearer {TOKEN}"}
    requests_mock.get(ADE_URL, status_code=status, json=echo)
    with pytest.raises(error, match=said) as caught:
        client().advertiser_defined_events("123")
    assert TOKEN not in str(caught.value)
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    "body",
    [
        ok()["json"],
        ok(extra="a key the fast path does not know")["json"],
        ok(num_events_received="2")["json"],
        {"events": [{"status": "processed"}, {"status": "processed", "error_message": None}]},
        {"events": [{"status": "processed", "error_message": "", "warning_message": ""}] * 3},
        {"events": [{"status": "processed", "error_message": "", "warning_message": ""}]},
        {"events": [{"status": "processed", "error_message": "", "warning_message": "Odd"}] * 2},
        {"events": [{"status": "processed", "error_message": 0, "warning_message": ""}] * 2},
    ],
)
def test_the_usual_200_read_in_c_gives_what_reading_it_whole_gives(
    requests_mock, monkeypatch, body
):
    # The typed fast path answers only for the documented shape with every event
    # processed; whatever the body, the results are those of reading it whole.
    requests_mock.post(URL, json=body)
    fast = client().send(EVENTS)
    monkeypatch.setattr(client_module, "_all_processed", lambda content, count: False)
    assert client().send(EVENTS) == fast
    assert len(fast) == len(EVENTS)
