"""The local Pinterest (``target-pinterest-conversions-local-api``): a first live run.

The server runs as the user runs it, a command in its own process; the target runs as
its command against it. Every body the target sent is also held to Pinterest's published
request schema here (the server itself checks with the package's rules).
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import target_pinterest_conversions.local_api as local_api_module
from target_pinterest_conversions.conversion.checks import REQUIRED_FIELDS
from target_pinterest_conversions.local_api import DEMO_TOKEN, event_problems
from tests.cli import DEADLINE, Lines, command, run_target
from tests.pinterest_schema import load_request_validator

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
README = ROOT / "README.md"
ACCOUNT = "549755885175"
EVENTS = f"/v5/ad_accounts/{ACCOUNT}/events"


def server_command() -> list[str]:
    """The console script next to this Python, else ``python -m``."""
    script = Path(sys.executable).parent / "target-pinterest-conversions-local-api"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "target_pinterest_conversions.local_api"]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    stdout: Lines
    stderr: Lines
    requests_file: Path

    def bodies(self) -> list[dict[str, Any]]:
        if not self.requests_file.exists():
            return []
        return [json.loads(line) for line in self.requests_file.read_text().splitlines()]


def start(command: list[str], **kwargs: Any) -> tuple[subprocess.Popen, Lines, Lines, str]:
    """Start the server's command; return it, its output streams and its URL, once it
    printed its ``Listening on`` line (never after a fixed sleep)."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )
    stdout, stderr = Lines(proc.stdout), Lines(proc.stderr)  # type: ignore[arg-type]
    try:
        line = stdout.wait_for("Listening on ")
    except AssertionError:
        proc.kill()
        raise AssertionError(f"no URL: {stderr.join()}") from None
    match = re.fullmatch(r"Listening on (http://127\.0\.0\.1:\d+)\n", line)
    assert match, line
    return proc, stdout, stderr, match.group(1)


def stop(proc: subprocess.Popen, signum: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        return proc.wait(DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()


@contextlib.contextmanager
def local_api(tmp_path: Path, *args: str) -> Iterator[Server]:
    requests_file = tmp_path / "requests" / "local-api-requests.jsonl"
    proc, out, err, url = start(
        [*server_command(), "--requests-file", str(requests_file), *args],
    )
    try:
        yield Server(url, proc, out, err, requests_file)
    finally:
        stop(proc)


def sample_lines() -> list[str]:
    """The bundled orders with their times moved into the last hour."""
    return subprocess.run(
        [sys.executable, str(SAMPLE / "recent.py"), str(SAMPLE / "orders.singer")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def live_config(tmp_path: Path, url: str) -> dict[str, Any]:
    """The bundled live config, pointed at ``url``, its files in ``tmp_path``."""
    config = json.loads((SAMPLE / "config.local-api.json").read_text())
    return {
        **config,
        "api_url": url,
        "dead_letter_path": str(tmp_path / "dead-letter.jsonl"),
    }


def dead_letters(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "dead-letter.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def call(
    url: str,
    path: str,
    body: Any = None,
    *,
    token: str = DEMO_TOKEN,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """One request to the server: its status and decoded JSON body."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - a local http URL of the test's server
        url + path,
        data=data,
        method="GET" if data is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def schema_problems(bodies: list[dict[str, Any]]) -> list[str]:
    validator = load_request_validator()
    if validator is None:
        return []
    return [error.message for body in bodies for error in validator.iter_errors(body)]


def good_event(**changes: Any) -> dict[str, Any]:
    event = {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": int(time.time()) - 60,
        "event_id": "order-1",
        "user_data": {"em": ["a" * 64], "client_ip_address": "192.0.2.1"},
        "custom_data": {
            "value": "12.5",
            "currency": "USD",
            "contents": [{"id": "p1", "quantity": 2, "item_price": "6.25"}],
        },
        "device_info": {"form_factor": "desktop", "battery_level": 80},
    }
    event.update(changes)
    return event


# -- The run the README shows, through the commands --------------------------------------


@pytest.mark.cli
def test_the_target_sends_the_bundled_sample_to_the_local_api(tmp_path):
    with local_api(tmp_path) as api:
        result = run_target(tmp_path, live_config(tmp_path, api.url), sample_lines())
        bodies = api.bodies()
    assert result.returncode == 0, result.stderr
    assert result.states[-1]["bookmarks"]
    assert "Run succeeded in" in result.stderr
    assert "19 events sent, 19 processed" in result.stderr
    assert f"POST {EVENTS}: 19 events, 19 processed, 0 failed" in api.stderr.text
    # The requests file holds the one body the target sent, as sent.
    assert len(bodies) == 1
    assert len(bodies[0]["data"]) == 19
    assert {e["event_name"] for e in bodies[0]["data"]} == {"checkout"}
    assert "jane.doe@example.com" not in api.requests_file.read_text()
    assert schema_problems(bodies) == []
    # The record without a match key never left the target.
    [dead] = dead_letters(tmp_path)
    assert (dead["stage"], dead["key"]) == ("target", {"id": "gid://shopify/Order/5008"})


@pytest.mark.cli
def test_a_wrong_token_is_the_targets_auth_error(tmp_path):
    with local_api(tmp_path) as api:
        config = {**live_config(tmp_path, api.url), "access_token": "not-the-demo-token"}
        result = run_target(tmp_path, config, sample_lines())
        bodies = api.bodies()
    assert result.returncode == 3, result.stderr
    assert "not-the-demo-token" not in result.stderr
    assert f"POST {EVENTS}: 401, the access token is not this server's" in api.stderr.text
    assert bodies == []


@pytest.mark.cli
def test_an_event_the_server_fails_goes_to_the_dead_letter_file_with_its_reason(tmp_path):
    with local_api(tmp_path) as api:
        config = live_config(tmp_path, api.url)
        orders = config["streams"]["orders"]
        del orders["event_name"]
        # One order is named with a name that is neither Pinterest's nor the account's own.
        orders["event_name_from"] = "name"
        orders["event_name_map"] = {"#1003": "purchase"}
        result = run_target(tmp_path, config, sample_lines())
        bodies = api.bodies()
    assert result.returncode == 0, result.stderr
    assert f"POST {EVENTS}: 19 events, 18 processed, 1 failed" in api.stderr.text
    assert len(bodies) == 1  # answered, with per-event verdicts: a request all the same
    assert schema_problems(bodies) == []
    failed = [d for d in dead_letters(tmp_path) if d["stage"] == "pinterest"]
    assert [d["key"] for d in failed] == [{"id": "gid://shopify/Order/5003"}]
    assert failed[0]["reason"] == (
        "Pinterest: event_name is not one of Pinterest's event names nor an "
        "advertiser-defined event of the ad account"
    )
    assert failed[0]["event"]["event_name"] == "purchase"


@pytest.mark.cli
def test_the_targets_check_passes_against_it_and_records_nothing(tmp_path):
    with local_api(tmp_path) as api:
        config = live_config(tmp_path, api.url)
        path = tmp_path / "check.json"
        path.write_text(json.dumps(config))
        done = subprocess.run(
            [*command(), "--config", str(path), "--check"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )
        bodies = api.bodies()
    assert done.returncode == 0, done.stderr
    assert "Connection check passed" in done.stderr
    assert f"POST {EVENTS} (test=true: not recorded): 1 event, 1 processed" in api.stderr.text
    assert bodies == []


@pytest.mark.cli
@pytest.mark.parametrize(
    ("signum", "command"),
    [
        (signal.SIGTERM, server_command()),
        (signal.SIGINT, [sys.executable, "-m", "target_pinterest_conversions.local_api"]),
    ],
)
def test_a_termination_signal_stops_the_server_cleanly(signum, command):
    proc, _, err, url = start([*command, "--port", "0"])
    assert call(url, f"/v5/ad_accounts/{ACCOUNT}/advertiser_defined_events")[0] == 200
    assert stop(proc, signum) == 0
    assert err.join().endswith("Stopped.\n")


# -- Pinterest's answers, request by request -----------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Server]:
    with local_api(tmp_path_factory.mktemp("local-api")) as server:
        yield server


@pytest.mark.cli
def test_answers_are_pinterests(api):
    # 401 with Pinterest's body, for a wrong or missing token.
    assert call(api.url, EVENTS, {"data": [good_event()]}, token="wrong") == (
        401,
        {"code": 2, "message": "Authentication failed.", "status": "failure"},
    )
    # 400 for what is no request of events.
    for raw, message in (
        (b"{not json", "Invalid request: the body is not JSON"),
        (b'{"data": []}', "Invalid request: data must hold 1 to 1000 events, not 0"),
        (b'{"events": []}', "Invalid request: the body must be an object whose data is a list"),
        (b"[]", "Invalid request: the body must be an object whose data is a list"),
    ):
        status, body = call(api.url, EVENTS, raw=raw)
        assert (status, body["code"]) == (400, 4196), raw
        assert body["message"].startswith(message), raw
    status, body = call(api.url, EVENTS, {"data": [good_event()] * 1001})
    assert (status, body["message"]) == (
        400,
        "Invalid request: data must hold 1 to 1000 events, not 1001",
    )
    status, body = call(api.url, EVENTS, {"data": [good_event()], "test": True})
    assert status == 400
    assert "Additional properties are not allowed ('test' was unexpected)" in body["message"]
    status, _ = call(api.url, "/v5/ad_accounts/12x/events", {"data": [good_event()]})
    assert status == 400
    assert call(api.url, "/v5/elsewhere", {"data": []})[0] == 404
    # 200 when every event is processed.
    assert call(api.url, EVENTS, {"data": [good_event(), good_event(event_id="2")]}) == (
        200,
        {
            "num_events_received": 2,
            "num_events_processed": 2,
            "events": [{"status": "processed", "error_message": "", "warning_message": ""}] * 2,
        },
    )
    # Pinterest's 422 when some are not, the same per-event results in its details.
    status, body = call(api.url, EVENTS, {"data": [good_event(), good_event(event_time=1)]})
    assert status == 422
    assert body["code"] == 953
    assert body["details"]["num_events_received"] == 2
    assert body["details"]["num_events_processed"] == 1
    assert [e["status"] for e in body["details"]["events"]] == ["processed", "failed"]
    assert body["details"]["events"][1]["error_message"].startswith(
        "event_time is more than 7 days old"
    )


@pytest.mark.cli
def test_the_other_two_reads(api):
    assert call(api.url, f"/v5/ad_accounts/{ACCOUNT}/advertiser_defined_events") == (
        200,
        {"items": [{"name": "download_picture", "mapped_conversion_type": "PAGE_LOAD"}]},
    )
    event = good_event(event_name="download_picture", event_id="ade-1")
    assert call(api.url, EVENTS, {"data": [event]})[0] == 200
    status, scores = call(api.url, f"/v5/ad_accounts/{ACCOUNT}/conversion_eqs?lookback_period=14d")
    assert status == 200
    [web] = [s for s in scores if s["source_platform"] == "WEB"]
    assert web["ingestion_source"] == "CONVERSIONS_API"
    assert web["lookback_period"] == "14d"
    assert web["overall_status"] in ("GOOD", "FAIR", "NEEDS_IMPROVEMENT")
    components = web["quality_components"]
    assert components["hashed_email"]["download_picture"] == {"coverage": 100.0}
    assert components["user_agent"]["download_picture"] == {"coverage": 0.0}
    assert "hashed_phone" not in components
    assert call(api.url, f"/v5/ad_accounts/{ACCOUNT}/conversion_eqs")[0] == 400


# -- What fails an event: the package's registry and rules ---------------------------------

NOW = 1_800_000_000


def _at_now(**changes: Any) -> dict[str, Any]:
    return {**good_event(event_time=NOW - 60), **changes}


def _with(path: str, value: Any) -> dict[str, Any]:
    event = copy.deepcopy(_at_now())
    *parents, last = path.split(".")
    node = event
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return event


def test_the_required_fields_typed_are_the_event_rules_required_fields():
    assert tuple(local_api_module._REQUIRED_TYPES) == REQUIRED_FIELDS


def test_a_valid_event_has_no_problems():
    assert event_problems(_at_now(), NOW) == []
    assert event_problems(_at_now(custom_data={"order_id": None}), NOW) == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not an object", "the event is a string, not an object"),
        (_at_now(event_time="1799999940"), "event_time is a string, not an integer"),
        (_at_now(event_time=True), "event_time is a boolean, not an integer"),
        (_at_now(event_time=NOW + 60), "event_time is in the future"),
        (_at_now(event_time=NOW - 8 * 86_400), "event_time is more than 7 days old"),
        ({**_at_now(), "event_id": ""}, "event_id is missing"),
        (_at_now(action_source="store"), "action_source is not one of web"),
        (_at_now(user_data={"ph": ["a" * 64]}), "user_data has no match key"),
        (_at_now(event_name="purchase"), "event_name is not one of Pinterest's event names"),
        (_with("user_data.em", ["A" * 64]), "user_data.em holds a value that is not a SHA-256"),
        (_with("user_data.em", ["jane@example.com"]), "user_data.em holds a value that is not"),
        (_with("user_data.em", "a" * 64), "user_data.em is a string, not an array"),
        (_with("user_data.client_ip_address", 1), "user_data.client_ip_address is an integer"),
        (_with("custom_data.value", 12.5), "custom_data.value is a number, not a string"),
        (_with("custom_data.value", "twelve"), "custom_data.value is not a number"),
        (_with("custom_data.currency", "dollars"), "custom_data.currency is not a three-letter"),
        (_with("custom_data.num_items", 2**63), "custom_data.num_items is out of range"),
        (_with("custom_data.content_ids", [1]), "custom_data.content_ids holds a value that is"),
        (_with("custom_data.category_name", "x"), "custom_data.category_name is not a field"),
        (_with("custom_data.contents.0.quantity", "2"), "custom_data.contents[0].quantity is a"),
        (_with("custom_data.contents", {}), "custom_data.contents is an object, not an array"),
        (_with("device_info.form_factor", "Desktop"), "device_info.form_factor is not one of"),
        (_with("device_info.battery_level", 101), "device_info.battery_level is out of range"),
        (
            _with("device_info.timezone_abbr", "ABCDEF"),
            "device_info.timezone_abbr is longer than 5",
        ),
        (_with("app_info", []), "app_info is an array, not an object"),
        (_with("wifi", "yes"), "wifi is a string, not a boolean"),
        (_with("advertiser_tracking_enabled", True), "advertiser_tracking_enabled is not a field"),
    ],
)
def test_each_problem_is_named_by_its_field(event, reason):
    problems = event_problems(event, NOW)
    assert any(p.startswith(reason) for p in problems), problems
    # The reasons never hold the value (as the target's own never do).
    assert not any("jane@example.com" in p for p in problems)


# -- The README's section, run as written --------------------------------------------------


def _readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("#### A first live run without an account")
    return text[start : text.index("\n### ", start)]


@pytest.mark.cli
def test_the_readme_commands_of_a_first_live_run_work(tmp_path):
    section = _readme_section()
    server_cmd, target_cmd = re.findall(r"```bash\n(.*?)\n```", section, re.S)
    port = re.search(r"--port (\d+)", server_cmd).group(1)
    config = json.loads((SAMPLE / "config.local-api.json").read_text())
    assert config["api_url"] == f"http://127.0.0.1:{port}"
    assert config["access_token"] == DEMO_TOKEN
    assert f"`{DEMO_TOKEN}`" in section
    # The commands as written, in a scratch folder holding the sample, with two changes:
    # the venv's bin is this Python's, and the port is a free one (tests run in parallel).
    bin_dir = f"{Path(sys.executable).parent}/"
    (tmp_path / "sample").mkdir()
    for name in ("recent.py", "orders.singer"):
        (tmp_path / "sample" / name).write_bytes((SAMPLE / name).read_bytes())
    server_args = shlex.split(server_cmd.replace(".venv/bin/", bin_dir))
    server_args[server_args.index("--port") + 1] = "0"
    proc, out, err, url = start(server_args, cwd=tmp_path)
    try:
        (tmp_path / "sample" / "config.local-api.json").write_text(
            json.dumps({**config, "api_url": url})
        )
        done = subprocess.run(
            ["bash", "-c", target_cmd.replace(".venv/bin/", bin_dir)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        assert stop(proc, signal.SIGINT) == 0  # Ctrl-C
    assert done.returncode == 0, done.stderr
    assert "bookmarks" in json.loads(done.stdout.splitlines()[-1])  # STATE
    # What the README says the user sees.
    said = re.search(r"then a line per request on stderr\s+\(`([^`]+)`\)", section).group(1)
    assert said in err.text
    assert f"Listening on {url}" in out.text
    run_line = re.search(r"`(Run succeeded \.\.\. \(LIVE: [^`]+)`", section).group(1)
    pattern = re.escape(run_line).replace(re.escape(" ... "), ".* ").replace(port, r"\d+")
    assert re.search(pattern, done.stderr), run_line
    requests_file = re.search(r"--requests-file (\S+)", server_cmd).group(1)
    assert requests_file in section.split("```")[-1]
    bodies = (tmp_path / requests_file).read_text().splitlines()
    assert len(bodies) == 1
    dead = (tmp_path / config["dead_letter_path"]).read_text().splitlines()
    assert len(dead) == 1
    assert config["dead_letter_path"] in section
