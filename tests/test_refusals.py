"""Refused ad accounts and requests too large, in process: the client's 413 halving and
403/404 refusals (requests-mock), and the deliveries' handling of a refused account.

The command-line tests against the local server are in ``test_refusals_cli.py``.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from target_pinterest_conversions.context.summary import RunSummary
from target_pinterest_conversions.delivery.batch import PendingEvent
from target_pinterest_conversions.delivery.client import (
    AccountRefused,
    EventResult,
    PinterestClient,
    RequestRejected,
)
from target_pinterest_conversions.delivery.deadletter import DeadLetterWriter
from target_pinterest_conversions.delivery.pool import Deliveries
from target_pinterest_conversions.delivery.state import StateGate
from target_pinterest_conversions.errors import AuthError

TOKEN = "pina_secret_token_value"
API = "https://api.example.test"


def url(account: str) -> str:
    return f"{API}/v5/ad_accounts/{account}/events"


def client(**kwargs: Any) -> PinterestClient:
    return PinterestClient(access_token=TOKEN, api_url=API, backoff_base=0.01, **kwargs)


def ids(request: Any) -> list[str]:
    return [e["event_id"] for e in json.loads(request.body)["data"]]


def processed(request: Any, context: Any) -> dict[str, Any]:
    return {"events": [{"status": "processed"} for _ in ids(request)]}


def test_a_413_halves_the_request_until_it_fits_and_fails_an_event_too_large_alone(
    requests_mock,
):
    def answer(request: Any, context: Any) -> dict[str, Any]:
        sent = ids(request)
        if len(sent) > 2 or "big" in sent:
            context.status_code = 413
            return {"code": 413, "message": f"Request Entity Too Large {TOKEN}"}
        return processed(request, context)

    requests_mock.post(url("111"), json=answer)
    events = [{"event_id": i} for i in ["a", "b", "c", "big", "e", "f", "g"]]
    results = client().send(events, "111")
    sizes = [ids(r) for r in requests_mock.request_history]
    assert sizes == [
        ["a", "b", "c", "big", "e", "f", "g"],
        ["a", "b", "c", "big"],
        ["a", "b"],
        ["c", "big"],
        ["c"],
        ["big"],
        ["e", "f", "g"],
        ["e", "f"],
        ["g"],
    ]
    assert [r.status for r in results] == ["processed"] * 3 + ["failed"] + ["processed"] * 3
    message = results[3].error_message
    assert message.startswith("the event alone is too large for Pinterest (HTTP 413: ")
    assert TOKEN not in message  # redacted as every message read from the network


def test_a_403_or_404_is_an_account_refusal_that_knows_whether_the_token_worked(requests_mock):
    requests_mock.post(url("111"), json=processed)
    requests_mock.post(url("222"), status_code=403, json={"code": 29, "message": "not yours"})
    requests_mock.post(url("333"), status_code=404, json={"code": 404, "message": "no such"})
    sender = client(account_refusals=True)
    with pytest.raises(AccountRefused) as before:
        sender.send([{"event_id": "a"}], "222")
    assert not before.value.token_proven
    assert isinstance(before.value.fatal, AuthError)  # what stops the run meanwhile
    assert "access to ad account 222 was denied (403)" in str(before.value.fatal)
    sender.send([{"event_id": "b"}], "111")
    assert sender.token_proven
    with pytest.raises(AccountRefused) as after:
        sender.send([{"event_id": "c"}], "333")
    assert after.value.token_proven
    assert after.value.status == 404
    assert isinstance(after.value.fatal, RequestRejected)
    assert after.value.reason.startswith(
        "Pinterest did not find ad account 333 (HTTP 404: no such) although the token works "
        "for other ad accounts: check that 333 is the right ad_account_id"
    )


def test_without_account_refusals_a_403_still_stops_and_a_401_always_does(requests_mock):
    requests_mock.post(url("111"), json=processed)
    requests_mock.post(url("222"), status_code=403, json={"code": 29})
    requests_mock.post(url("444"), status_code=401, json={"code": 2})
    plain = client()
    plain.send([{"event_id": "a"}], "111")
    with pytest.raises(AuthError, match="denied"):  # --check's client: as before
        plain.send([{"event_id": "b"}], "222")
    refusing = client(account_refusals=True)
    refusing.send([{"event_id": "a"}], "111")
    with pytest.raises(AuthError, match="access token was rejected") as caught:
        refusing.send([{"event_id": "c"}], "444")
    assert not isinstance(caught.value, AccountRefused)


class RefusingSender:
    """Refuses one account (token proven or not); records the requests it gets."""

    dry_run = False

    def __init__(self, refused: str, *, proven: bool) -> None:
        self.refused = refused
        self.proven = proven
        self.calls: list[tuple[str | None, list[str]]] = []
        self.lock = threading.Lock()

    def send(
        self, events: Sequence[dict[str, Any]], ad_account_id: str | None = None
    ) -> list[EventResult]:
        with self.lock:
            self.calls.append((ad_account_id, [e["event_id"] for e in events]))
        if ad_account_id == self.refused:
            raise AccountRefused(
                self.refused,
                403,
                f"Pinterest refused ad account {self.refused} (HTTP 403: no)",
                token_proven=self.proven,
                fatal=AuthError(f"access to ad account {self.refused} was denied (403)"),
            )
        return [EventResult("processed") for _ in events]

    def close(self) -> None:
        return


def pending(*names: str) -> list[PendingEvent]:
    return [PendingEvent(event={"event_id": n}, key={"id": n}) for n in names]


def deliveries(tmp_path, sender: RefusingSender, out: io.StringIO, **kwargs: Any):
    summary = RunSummary()
    gate = StateGate(out=out)
    pool = Deliveries(
        sender=lambda: sender,
        gate=gate,
        dead_letters=DeadLetterWriter(tmp_path / "dead.jsonl"),
        summary=summary,
        request_size=2,
        parallel=1,
        after_batch=lambda *_: None,
        **kwargs,
    )
    return gate, pool, summary


def dead_lines(tmp_path) -> list[dict[str, Any]]:
    path = tmp_path / "dead.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def submit(gate: StateGate, pool: Deliveries, batch: str, items: dict) -> None:
    gate.open_batch(batch, gate.next_seq())
    pool.submit("events", batch, items)
    gate.offer({"after": batch})


def test_a_refused_account_is_dead_lettered_remembered_and_state_moves_on(tmp_path):
    sender = RefusingSender("222", proven=True)
    out = io.StringIO()
    gate, pool, summary = deliveries(tmp_path, sender, out)
    submit(gate, pool, "b1", {"222": pending("r1", "r2", "r3"), "111": pending("a1")})
    submit(gate, pool, "b2", {"222": pending("r4"), "111": pending("a2")})
    pool.wait()
    pool.close()
    # One request to the refused account; its later events, in this batch and the
    # next, are dead-lettered without one; the other account is delivered.
    assert sender.calls == [("222", ["r1", "r2"]), ("111", ["a1"]), ("111", ["a2"])]
    dead = dead_lines(tmp_path)
    assert [(d["key"]["id"], d["stage"]) for d in dead] == [
        ("r1", "pinterest"),
        ("r2", "pinterest"),
        ("r3", "target"),
        ("r4", "target"),
    ]
    assert all(d["ad_account_id"] == "222" for d in dead)
    assert dead[2]["reason"] == (
        "not sent: Pinterest refused ad account 222 (HTTP 403: no); the account was "
        "refused earlier in this run"
    )
    assert json.loads(out.getvalue().splitlines()[-1]) == {"after": "b2"}  # past them all
    data = summary.as_dict()
    assert data["refused_ad_accounts"] == {
        "222": {
            "status": 403,
            "reason": "Pinterest refused ad account 222 (HTTP 403: no)",
            "events": 4,
        }
    }
    assert data["by_ad_account"]["222"]["failed_at_pinterest"] == 2
    assert data["by_ad_account"]["222"]["dead_lettered_locally"] == 2
    assert data["by_ad_account"]["111"]["processed"] == 2


def test_before_the_token_is_known_good_a_refusal_stops_the_run_and_dead_letters_nothing(
    tmp_path,
):
    sender = RefusingSender("222", proven=False)
    out = io.StringIO()
    gate, pool, _ = deliveries(tmp_path, sender, out)  # no other account to test the token
    submit(gate, pool, "b1", {"222": pending("r1")})
    with pytest.raises(AuthError, match="denied"):
        pool.wait()
    pool.close()
    assert dead_lines(tmp_path) == []
    assert out.getvalue() == ""


@pytest.mark.parametrize(("vouching", "stops"), [("111", False), (None, True)])
def test_a_test_event_to_another_account_tells_a_refused_account_from_a_bad_token(
    tmp_path, vouching, stops
):
    asked: list[list[str]] = []

    def probe(accounts: Sequence[str]) -> str | None:
        asked.append(list(accounts))
        return vouching

    sender = RefusingSender("222", proven=False)
    out = io.StringIO()
    gate, pool, _ = deliveries(tmp_path, sender, out, known_accounts=["999", "222"], probe=probe)
    submit(gate, pool, "b1", {"222": pending("r1"), "111": pending("a1")})
    if stops:
        with pytest.raises(AuthError):
            pool.wait()
    else:
        pool.wait()
    pool.close()
    # Known accounts first, then those the run was given events for; never the refused one.
    assert asked == [["999", "111"]]
    assert [d["key"]["id"] for d in dead_lines(tmp_path)] == ([] if stops else ["r1"])
