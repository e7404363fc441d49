"""The connection check through the CLI (`--check`) and as Meltano's loader test stream."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

import pytest

from target_pinterest_conversions.check import synthetic_event
from target_pinterest_conversions.conversion.checks import validate_event
from tests.cli import Result, command, run_target, run_with_stdin_open, write_config
from tests.fake_pinterest import REFUSALS, FakePinterest, Scripted

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
STREAMS = {
    "orders": {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": "ts",
        "user_data": {"em": "email"},
    },
}


def config(api_url: str, **extra: object) -> dict:
    return {
        "ad_account_id": ACCOUNT,
        "access_token": TOKEN,
        "api_url": api_url,
        "max_tries": 2,
        "streams": STREAMS,
        **extra,
    }


def check(tmp_path, cfg: dict) -> Result:
    # stdin stays open: --check must not read it.
    return run_with_stdin_open(tmp_path, cfg, "--check")


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1].split(" | ", 3)[-1]


def messages(stderr: str) -> list[str]:
    return [line.split(" | ", 3)[-1] for line in stderr.splitlines()]


def level_of(stderr: str, text: str) -> str:
    """The level of the first log line holding ``text``."""
    line = next(line for line in stderr.splitlines() if text in line)
    return line.split(" | ")[1].strip()


def test_the_synthetic_event_is_valid_and_never_a_real_person():
    event = synthetic_event(1_800_000_000, "ss-acme")
    assert validate_event(event, 1_800_000_000) == []
    assert event["event_id"] != synthetic_event(1_800_000_000)["event_id"]
    assert event["partner_name"] == "ss-acme"
    assert event["user_data"]["client_ip_address"].startswith("203.0.113.")  # TEST-NET-3


def test_check_passes_for_a_good_token_with_one_test_request(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        result = check(tmp_path, config(api.url, partner_name="ss-acme"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.errors == []  # the request met Pinterest's published schema
    assert len(api.requests) == 1
    request = api.requests[0]
    assert request.query == {"test": ["true"]}
    assert len(request.events) == 1
    assert request.events[0]["partner_name"] == "ss-acme"
    assert last_line(result.stderr).startswith(
        f"Connection check passed: {api.url.removeprefix('http://')} accepted a test event "
        f"for ad account {ACCOUNT}"
    )
    assert result.stdout == ""
    assert TOKEN not in result.stderr
    # Then one read of the account's advertiser-defined events, with the same token.
    assert [(r.path, r.query, r.status) for r in api.reads] == [
        (f"/v5/ad_accounts/{ACCOUNT}/advertiser_defined_events", {}, 200),
    ]
    assert f"Ad account {ACCOUNT} has no advertiser-defined events" in messages(result.stderr)


def test_check_fails_with_exit_3_for_a_rejected_token(tmp_path):
    with FakePinterest(token="the-real-token") as api:
        result = check(tmp_path, config(api.url))
    assert result.returncode == 3
    assert last_line(result.stderr) == (
        "Connection check failed: the access token was rejected (401): check access_token; "
        "it must be a conversion access token from Ads Manager or an OAuth token with ads:write"
    )
    assert TOKEN not in result.stderr


def test_check_fails_with_exit_3_for_an_ad_account_without_access(tmp_path):
    forbidden = {"code": 29, "message": "You are not permitted to access that resource."}
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=403, body=forbidden))
        result = check(tmp_path, config(api.url))
    assert result.returncode == 3
    assert f"access to ad account {ACCOUNT} was denied (403): check ad_account_id" in (
        last_line(result.stderr)
    )


def test_check_fails_with_exit_4_for_an_unknown_ad_account(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=404, body={"code": 4, "message": "Not found"}))
        result = check(tmp_path, config(api.url))
    assert result.returncode == 4
    assert "was not found (404): check ad_account_id and api_url" in last_line(result.stderr)


def test_check_fails_with_exit_4_when_the_test_event_is_refused(tmp_path):
    refused = {
        "code": 953,
        "message": "Not all events were processed",
        "details": {
            "num_events_received": 1,
            "num_events_processed": 0,
            "events": [{"status": "failed", "error_message": "Conversion tag not set up"}],
        },
    }
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=422, body=refused))
        result = check(tmp_path, config(api.url))
    assert result.returncode == 4
    assert last_line(result.stderr) == (
        "Connection check failed: Pinterest accepted the token but refused the test event: "
        "Conversion tag not set up"
    )


def test_check_fails_with_exit_4_when_pinterest_cannot_be_reached(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    result = check(tmp_path, config(f"http://127.0.0.1:{port}", max_tries=1))
    assert result.returncode == 4
    assert last_line(result.stderr).startswith(
        f"Connection check failed: network: could not reach Pinterest at 127.0.0.1:{port}: "
    )


def test_check_in_a_dry_run_contacts_nobody_and_says_so(tmp_path):
    cfg = {"ad_account_id": ACCOUNT, "dry_run": True, "streams": STREAMS}
    result = check(tmp_path, cfg)
    assert result.returncode == 0, result.stderr
    assert "dry_run is true, so Pinterest was not contacted" in last_line(result.stderr)


def test_check_of_a_bad_config_is_a_config_error(tmp_path):
    cfg = {"ad_account_id": ACCOUNT, "streams": STREAMS}  # no token, not a dry run
    result = check(tmp_path, cfg)
    assert result.returncode == 2
    assert "access_token: required unless dry_run is true" in result.stderr


def _meltano_test_messages() -> list[str]:
    """What Meltano 4.4's `meltano config test` writes to a loader's stdin."""
    stream = "meltano_test_stream"
    return [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": stream,
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "key_properties": ["id"],
            },
        ),
        json.dumps(
            {
                "type": "RECORD",
                "stream": stream,
                "record": {
                    "id": 1,
                    "name": "Meltano Test Record",
                    "created_at": "2025-09-29T00:00:00Z",
                },
            },
        ),
        json.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"last_record": 1}}}}),
    ]


@pytest.mark.parametrize(("token", "code"), [(TOKEN, 0), ("wrong-token", 3)])
def test_meltano_test_stream_runs_the_check_and_sends_none_of_its_records(tmp_path, token, code):
    with FakePinterest(token=TOKEN) as api:
        result = run_target(
            tmp_path, {**config(api.url), "access_token": token}, _meltano_test_messages()
        )
    assert result.returncode == code, result.stderr[-3000:]
    assert len(api.requests) == 1
    assert api.requests[0].query == {"test": ["true"]}
    if code == 0:
        assert [e["event_name"] for e in api.requests[0].events] == ["page_visit"]
        assert "Connection check passed" in result.stderr
        assert len(api.reads) == 1  # the advertiser-defined events, as --check reads them
        # Meltano judges a loader test by its output: no line may mention an error.
        assert "error" not in result.stderr.lower()
        assert "exception" not in result.stderr.lower()
    else:
        assert "the access token was rejected (401)" in last_line(result.stderr)


RATE_LIMITED = {"code": 8, "message": "Too many requests"}


def test_check_stops_at_a_retry_after_beyond_max_retry_after_instead_of_waiting(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=429, body=RATE_LIMITED, headers={"Retry-After": "200"}))
        # Without max_retry_after the check would sleep 200 s: communicate() times out.
        result = run_with_stdin_open(
            tmp_path, config(api.url, max_retry_after=5), "--check", timeout=60
        )
    assert result.returncode == 4, result.stderr[-3000:]
    assert len(api.requests) == 1
    assert last_line(result.stderr) == (
        f"Connection check failed: Pinterest at {api.url.removeprefix('http://')} is limiting "
        "requests and asked to wait longer than max_retry_after (5s) before the test request: "
        "the token and ad account were not checked; run the check again later"
    )


def test_sigterm_ends_the_check_at_once_while_it_waits_for_a_retry(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=429, body=RATE_LIMITED, headers={"Retry-After": "200"}))
        path = write_config(tmp_path, config(api.url))
        proc = subprocess.Popen(
            [*command(), "--config", str(path), "--check"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            seen = []
            for line in proc.stderr:  # type: ignore[union-attr]
                seen.append(line)
                if "retrying in 200.0s" in line:  # the check is now waiting out the 429
                    break
            else:
                pytest.fail("no retry was announced:\n" + "".join(seen))
            proc.send_signal(signal.SIGTERM)
            # A hang bound only, well below the 200 s wait it must not sit out.
            rest = proc.communicate(timeout=120)[1]
        finally:
            proc.kill()
    assert proc.returncode == 143, rest[-3000:]
    assert last_line(rest) == "Connection check interrupted by SIGTERM: nothing was proven"
    assert len(api.requests) == 1


def test_check_of_a_live_run_with_no_account_known_before_the_input_fails(tmp_path):
    streams = {"orders": {**STREAMS["orders"], "ad_account_id": "account"}}
    cfg = {"access_token": TOKEN, "api_url": "http://127.0.0.1:9", "streams": streams}
    result = check(tmp_path, cfg)
    # Exit 0 would tell a pipeline's pre-flight step that a check passed that proved nothing.
    assert result.returncode == 2, result.stderr[-3000:]
    assert last_line(result.stderr) == (
        "Connection check failed: nothing was checked: no ad account is known before the "
        "input, so Pinterest was not contacted; the ad accounts that streams orders read from "
        "their records are known only from the input, and were not checked. Set a top-level "
        "ad_account_id (the account of streams without their own) to check the token"
    )


def test_check_tries_the_top_level_and_each_stream_account_and_names_per_record_ones(
    tmp_path,
):
    accounts = [ACCOUNT, "549755885176"]
    streams = {
        "orders": STREAMS["orders"],
        "refunds": {**STREAMS["orders"], "ad_account_id": accounts[1]},
        "visits": {**STREAMS["orders"], "ad_account_id": "account"},
    }
    with FakePinterest(token=TOKEN, ad_account_id=accounts) as api:
        result = check(tmp_path, {**config(api.url), "streams": streams})
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r.account for r in api.requests] == accounts
    assert last_line(result.stderr).endswith(
        f"for each of ad accounts {', '.join(accounts)} with this access token (sent with "
        "test=true: validated, not recorded); the ad accounts that streams visits read from "
        "their records are known only from the input, and were not checked"
    )


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"dry_run": True}, "Connection check: nothing was sent: dry_run is true"),
        ({"output": "csv"}, "Connection check: nothing was sent: output is csv"),
    ],
)
def test_check_that_sends_nothing_passes_only_if_the_run_could_start(tmp_path, extra, said):
    cfg = {"ad_account_id": ACCOUNT, "streams": STREAMS, **extra}
    ok = check(tmp_path, {**cfg, "csv_path": str(tmp_path / "csv")})
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert last_line(ok.stderr).startswith(said)
    (tmp_path / "folder").mkdir()
    # The files such a run writes are what it needs: one it cannot write fails the check.
    bad = check(tmp_path, {**cfg, "dead_letter_path": str(tmp_path / "folder")})
    assert bad.returncode == 2, bad.stderr[-3000:]
    assert "dead_letter_path" in last_line(bad.stderr)


CUSTOM_STREAMS = {
    "downloads": {**STREAMS["orders"], "event_name": "download_picture"},
    "recipes": {
        **{k: v for k, v in STREAMS["orders"].items() if k != "event_name"},
        "event_name_from": "kind",
        "event_name_map": {"Recipe Shared": "share_recipe", "Order": "checkout"},
    },
}
"""Two streams that send names Pinterest does not list: a constant, a map's target."""


def test_check_lists_the_advertiser_defined_events_and_warns_of_unregistered_names(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.defined_events = ["download_picture", "watch_tutorial"]
        result = check(tmp_path, config(api.url, streams=CUSTOM_STREAMS))
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.errors == []
    assert len(api.requests) == 1
    assert len(api.reads) == 1
    said = messages(result.stderr)
    assert (
        f"Ad account {ACCOUNT} has 2 advertiser-defined events: 'download_picture', "
        "'watch_tutorial'"
    ) in said
    untracked = [line for line in said if "Pinterest does not track it" in line]
    # The registered name is not warned about; the unregistered one is, once.
    assert untracked == [
        "streams.recipes: event name 'share_recipe' is neither a Pinterest event name nor an "
        f"advertiser-defined event of ad account {ACCOUNT}, so Pinterest does not track it: "
        "register it as a custom event in Ads Manager, or map it to a Pinterest event name"
    ]
    assert level_of(result.stderr, "'share_recipe'") == "WARNING"
    assert last_line(result.stderr).startswith("Connection check passed")
    assert TOKEN not in result.stderr


def test_check_lists_at_most_fifty_names_then_says_how_many_more(tmp_path):
    names = [f"event_{i:02d}" for i in range(53)]
    with FakePinterest(token=TOKEN) as api:
        api.defined_events = names
        result = check(tmp_path, config(api.url))
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(m for m in messages(result.stderr) if "advertiser-defined events:" in m)
    assert line == (
        f"Ad account {ACCOUNT} has 53 advertiser-defined events: "
        + ", ".join(repr(n) for n in names[:50])
        + " and 3 more"
    )


def test_check_says_what_names_sent_as_is_need_and_lists_the_registered_ones(tmp_path):
    streams = {
        "events": {
            **{k: v for k, v in STREAMS["orders"].items() if k != "event_name"},
            "event_name_from": "kind",
            "event_name_fallback": "as_is",
        },
    }
    with FakePinterest(token=TOKEN) as api:
        api.defined_events = ["download_picture"]
        result = check(tmp_path, config(api.url, streams=streams))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "streams.events sends event names read from its records as they are "
        "(event_name_fallback: as_is): each must be a Pinterest event name or an "
        f"advertiser-defined event of ad account {ACCOUNT}, or Pinterest does not track it; "
        "registered there: 'download_picture'"
    ) in messages(result.stderr)


def test_a_refused_read_of_the_defined_events_warns_and_the_check_still_passes(tmp_path):
    # A conversion access token may lack ads:read: Pinterest answers the read with a 403
    # (here echoing the token, which must not reach the log).
    refused = {**REFUSALS[403], "message": f"{REFUSALS[403]['message']} ({TOKEN})"}
    with FakePinterest(token=TOKEN) as api:
        api.defined_events_script.append(Scripted(status=403, body=refused))
        result = check(tmp_path, config(api.url, streams=CUSTOM_STREAMS))
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r.status for r in api.reads] == [403]  # a refusal is not retried
    assert level_of(result.stderr, "Could not read") == "WARNING"
    warning = next(line for line in messages(result.stderr) if "Could not read" in line)
    assert warning.startswith(
        f"Could not read the advertiser-defined events of ad account {ACCOUNT}, so the custom "
        "event names sent there were not checked against them: Pinterest did not let this "
        f"token read the advertiser-defined events of ad account {ACCOUNT} (HTTP 403: You are "
        "not permitted to access that resource. ("
    )
    assert "needs a token with the ads:read scope" in warning
    assert "Pinterest does not track it" not in result.stderr  # nothing known to warn about
    assert last_line(result.stderr).startswith("Connection check passed")
    assert TOKEN not in result.stderr


def test_a_read_of_the_defined_events_retries_a_429_as_its_retry_after_says(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.defined_events = ["download_picture"]
        api.defined_events_script.append(
            Scripted(status=429, body=RATE_LIMITED, headers={"Retry-After": "1"})
        )
        result = check(tmp_path, config(api.url, streams=CUSTOM_STREAMS))
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r.status for r in api.reads] == [429, 200]
    assert api.reads[1].at - api.reads[0].at >= 0.9
    assert "retrying in 1.0s" in result.stderr
    assert f"Ad account {ACCOUNT} has 1 advertiser-defined event: 'download_picture'" in (
        messages(result.stderr)
    )
