"""`--quality`: Pinterest's Event Quality Score read back beside the last run's signal shares.

Through the CLI, against the fake Pinterest (GET conversion_eqs in the spec's shape) and
the shipped local Pinterest; the client's GET alone with requests-mock.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from target_pinterest_conversions.delivery.client import (
    NotPinterest,
    PinterestClient,
    QualityScore,
)
from target_pinterest_conversions.errors import AuthError
from target_pinterest_conversions.local_api import DEMO_TOKEN
from target_pinterest_conversions.quality import event_name_of
from tests import test_meltano
from tests.cli import DEADLINE, Lines, Result, run_target, run_with_stdin_open, start_target
from tests.fake_pinterest import FakePinterest, Scripted, eqs_score
from tests.singer import CHECKOUT, record_line, schema_line

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"


def config(api_url: str, tmp_path, **extra: object) -> dict:
    return {
        "ad_account_id": ACCOUNT,
        "access_token": TOKEN,
        "api_url": api_url,
        "max_tries": 2,
        "summary_path": str(tmp_path / "summary.json"),
        "streams": {"orders": CHECKOUT},
        **extra,
    }


def dry_run(tmp_path, cfg: dict, total: int = 10) -> None:
    """An earlier dry run: writes the summary file whose figures --quality shows."""
    lines = [schema_line()] + [record_line("orders", i) for i in range(total)]
    result = run_target(tmp_path, {**cfg, "dry_run": True}, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["streams"]["orders"]["signal_quality"]["checkout"]["hashed_email"] == 1.0


def quality(tmp_path, cfg: dict) -> Result:
    # stdin stays open: --quality must not read it.
    return run_with_stdin_open(tmp_path, cfg, "--quality")


def messages(stderr: str) -> str:
    return "\n".join(line.split(" | ", 3)[-1] for line in stderr.splitlines())


def table(stderr: str, event_type: str) -> dict[str, list[str]]:
    """The rows of one event type's table: signal -> [Pinterest, local, notes...]."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if f"event type {event_type!r}" in line)
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("    "):
            break
        rows[line.split()[0]] = line.split()[1:]
    return rows


def test_pinterests_figures_are_printed_beside_the_last_runs(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        cfg = config(api.url, tmp_path)
        dry_run(tmp_path, cfg)
        api.eqs = [
            eqs_score(
                {
                    "CHECKOUT": {"hashed_email": 100.0, "ip_address": 0.0, "user_agent": 0.0},
                    "LEAD": {"hashed_email": 50.0},
                    "WEIRD_THING": {"hashed_email": 10.0},
                },
                overall_status="FAIR",
            ),
        ]
        result = quality(tmp_path, cfg)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == ""  # stdout is for STATE alone
    assert api.errors == []
    assert api.requests == []  # no event was sent, not even a test one
    assert len(api.eqs_reads) == 1
    read = api.eqs_reads[0]
    assert read.path == f"/v5/ad_accounts/{ACCOUNT}/conversion_eqs"
    assert read.query == {"lookback_period": ["14d"]}
    text = messages(result.stderr)
    assert (
        f"Pinterest's Event Quality Score of ad account {ACCOUNT}, WEB events from "
        "CONVERSIONS_API (last 14d): overall_status FAIR" in text
    )
    assert "event type 'CHECKOUT', beside the last run's 10 checkout events" in text
    rows = table(result.stderr, "CHECKOUT")
    assert rows["hashed_email"][:2] == ["1.00", "1.00"]
    assert rows["ip_address"][:2] == ["0.00", "0.00"]
    assert rows["external_event_id"][:2] == ["-", "1.00"]
    assert table(result.stderr, "LEAD") == {"hashed_email": ["0.50", "-"]}
    assert "(Pinterest scores no phone component)" in text
    assert "differs" not in text
    assert "event type 'LEAD', the last run sent this account no lead events" in text
    assert "event type 'WEIRD_THING', matches none of Pinterest's event names" in text
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            f"Event Quality Score read from {api.url.removeprefix('http://')} for ad account "
            f"{ACCOUNT}"
        )
    )
    assert TOKEN not in result.stderr


def test_a_component_that_differs_by_more_than_a_tenth_is_flagged(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        cfg = config(api.url, tmp_path)
        dry_run(tmp_path, cfg)
        api.eqs = [
            eqs_score(
                {"checkout": {"hashed_email": 40.0, "external_event_id": 95.0}},
                overall_status="NEEDS_IMPROVEMENT",
                issues={
                    ("hashed_email", "checkout"): [
                        {"id": "e1", "name": "Low email coverage", "reason": "few emails"}
                    ],
                },
            ),
        ]
        result = quality(tmp_path, cfg)
    assert result.returncode == 0, result.stderr[-3000:]
    text = messages(result.stderr)
    assert "differs: local 1.00, Pinterest 0.40" in text
    assert "issues: Low email coverage" in text
    # 0.95 against 1.00 is within the tenth: not flagged.
    assert text.count("differs:") == 2  # the table's row, and the warning
    assert any(
        "WARNING" in line
        and f"Ad account {ACCOUNT}, WEB checkout events: hashed_email differs: local 1.00, "
        "Pinterest 0.40"
        in line
        for line in result.stderr.splitlines()
    )
    assert "1 component differs from the last run by more than 0.1" in text


def test_without_a_summary_file_pinterests_figures_are_shown_alone(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.eqs = [eqs_score({"checkout": {"hashed_email": 80.0}})]
        missing = quality(tmp_path, config(api.url, tmp_path))
        unset = config(api.url, tmp_path)
        del unset["summary_path"]
        not_set = quality(tmp_path, unset)
    for result in (missing, not_set):
        assert result.returncode == 0, result.stderr[-3000:]
        text = messages(result.stderr)
        assert "overall_status GOOD" in text
        assert "event type 'checkout', no local figures" in text
        assert "differs" not in text
    assert f"summary_path {tmp_path / 'summary.json'}: no such file" in messages(missing.stderr)
    assert "summary_path is not set" in messages(not_set.stderr)


def test_a_token_without_ads_read_exits_3_naming_the_scope_and_never_the_token(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        api.eqs_script.append(
            Scripted(403, {"code": 29, "message": f"Not authorized for token {TOKEN}"})
        )
        result = quality(tmp_path, config(api.url, tmp_path))
    assert result.returncode == 3, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "Event Quality Score not read" in last
    assert "ads:read" in last
    assert TOKEN not in result.stderr
    assert result.stdout == ""


def test_a_wrong_token_exits_3_and_bad_config_exits_2_before_any_request(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        wrong = quality(tmp_path, {**config(api.url, tmp_path), "access_token": "other-token"})
        bad = quality(tmp_path, {**config(api.url, tmp_path), "max_tries": "many"})
        no_account = config(api.url, tmp_path)
        del no_account["ad_account_id"]
        unknown = quality(tmp_path, no_account)
    assert wrong.returncode == 3, wrong.stderr[-3000:]
    assert "check access_token" in wrong.stderr
    assert bad.returncode == 2, bad.stderr[-3000:]
    assert unknown.returncode == 2, unknown.stderr[-3000:]
    assert "ad_account_id" in unknown.stderr.strip().splitlines()[-1]
    assert len(api.eqs_reads) == 1  # the wrong token's alone


def test_pinterests_event_types_match_our_names_ignoring_case_and_separators():
    assert event_name_of("CHECKOUT") == "checkout"
    assert event_name_of("PAGE_VISIT") == "page_visit"
    assert event_name_of("pagevisit") == "page_visit"
    assert event_name_of("AddToCart") == "add_to_cart"
    assert event_name_of("download_picture") is None


EQS_URL = "https://api.example.test/v5/ad_accounts/123/conversion_eqs"


def test_the_get_reads_the_spec_shape_with_the_token_and_no_body(requests_mock, monkeypatch):
    monkeypatch.setattr(PinterestClient, "_wait", lambda self, seconds: False)
    score = eqs_score(
        {"checkout": {"hashed_email": 97.5}},
        issues={("hashed_email", "checkout"): [{"id": "1", "name": "n", "reason": "r"}]},
    )
    requests_mock.get(
        EQS_URL,
        [{"status_code": 503, "json": {"code": 1, "message": "busy"}}, {"json": [score]}],
    )
    client = PinterestClient(access_token=TOKEN, api_url="https://api.example.test")
    found = client.conversion_eqs("123")
    assert found == [
        QualityScore(
            "WEB",
            "CONVERSIONS_API",
            "14d",
            "GOOD",
            {"hashed_email": {"checkout": 97.5}},
            {("hashed_email", "checkout"): ("n",)},
        )
    ]
    assert requests_mock.call_count == 2
    request = requests_mock.last_request
    assert request.method == "GET"
    assert request.qs == {"lookback_period": ["14d"]}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.body is None

    requests_mock.get(EQS_URL, status_code=403, json={"message": f"no scope {TOKEN}"})
    with pytest.raises(AuthError, match="ads:read") as refused:
        client.conversion_eqs("123")
    assert TOKEN not in str(refused.value)
    for answer in (
        {"json": {"items": []}},
        {"json": [{"overall_status": "GOOD"}]},
        {"json": [{**score, "quality_components": {"hashed_email": {"x": {"coverage": "hi"}}}}]},
        {"text": "<html>portal</html>", "headers": {"Content-Type": "text/html"}},
    ):
        requests_mock.get(EQS_URL, **answer)
        with pytest.raises(NotPinterest, match="not Pinterest's list of Event Quality Scores"):
            client.conversion_eqs("123")


def test_quality_against_the_shipped_local_api(tmp_path):
    """The local Pinterest scores the events it processed: the live run's shares agree."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_pinterest_conversions.local_api", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = Lines(proc.stdout), Lines(proc.stderr)  # type: ignore[arg-type]
    try:
        url = out.wait_for("Listening on ").split()[-1]
        cfg = {**config(url, tmp_path), "access_token": DEMO_TOKEN}
        lines = [schema_line()] + [record_line("orders", i) for i in range(5)]
        live = run_target(tmp_path, cfg, lines)
        assert live.returncode == 0, live.stderr[-3000:]
        result = quality(tmp_path, cfg)
    finally:
        proc.terminate()
        proc.wait(60)
    assert result.returncode == 0, result.stderr[-3000:]
    text = messages(result.stderr)
    assert "WEB events from CONVERSIONS_API (last 14d): overall_status" in text
    assert "event type 'checkout', beside the last run's 5 checkout events" in text
    assert "differs" not in text
    assert f"GET /v5/ad_accounts/{ACCOUNT}/conversion_eqs: 200" in err.text


def test_sigterm_ends_the_read_at_once_while_it_waits_out_a_429(tmp_path):
    # A platform stopping the job must not wait for Pinterest's Retry-After (here 200 s).
    with FakePinterest(token=TOKEN) as api:
        api.eqs_script.append(
            Scripted(
                status=429,
                body={"code": 8, "message": "Rate limit exceeded."},
                headers={"Retry-After": "200"},
            )
        )
        proc = start_target(tmp_path, config(api.url, tmp_path, max_tries=3), "--quality")
        err = Lines(proc.stderr)  # type: ignore[arg-type]
        try:
            err.wait_for("retrying in 200.0s")  # the read now waits out the 429
            proc.send_signal(signal.SIGTERM)
            # A hang bound only, well below the 200 s wait it must not sit out.
            proc.wait(timeout=DEADLINE)
        finally:
            proc.kill()
        assert len(api.eqs_reads) == 1
    text = err.join()
    assert proc.returncode == 143, text[-3000:]
    assert messages(text).splitlines()[-1] == "Quality read interrupted by SIGTERM"
    assert TOKEN not in text


@pytest.mark.slow
@test_meltano.needs_meltano
def test_meltano_invoke_quality_shows_pinterests_score_beside_the_last_meltano_run(
    tmp_path, meltano_plugins
):
    folder = test_meltano.sample_project(tmp_path, meltano_plugins)
    summary = {"TARGET_PINTEREST_CONVERSIONS_SUMMARY_PATH": "output/summary.json"}
    # The README's project runs dry: its summary file holds the run's signal shares.
    run = test_meltano.meltano_result(folder, "run", "sample-orders", env=summary)
    assert run.returncode == 0, run.stderr[-4000:]
    with FakePinterest(token=test_meltano.TOKEN) as api:
        api.eqs = [eqs_score({"CHECKOUT": {"hashed_email": 10.0}}, overall_status="POOR")]
        env = {**test_meltano.loader_env(api), **summary}
        invoked = test_meltano.meltano_result(
            folder, "invoke", "target-pinterest-conversions", "--quality", env=env
        )
        assert len(api.eqs_reads) == 1
        assert api.requests == []
    assert invoked.returncode == 0, invoked.stderr[-4000:]
    assert invoked.stdout == ""
    text = invoked.stderr
    assert f"Event Quality Score of ad account {ACCOUNT}, WEB events" in text
    assert "overall_status POOR" in text
    assert "beside the last run's 19 checkout events" in text
    assert "hashed_email differs: local 1.00, Pinterest 0.10" in text
    assert test_meltano.TOKEN not in text
