"""What must not leak or grow without bound (issue 21), through the command as users run it.

The token goes neither to a parent folder's ``.env`` nor to an ``HTTP_PROXY``; a token
that no HTTP header can carry stops the run before any input; a FIFO without a reader
stops the run in words instead of holding it past SIGTERM; record values never reach the
log; and the ad accounts shown one by one in the log and summary are bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

from target_pinterest_conversions.context.summary import ACCOUNTS_SHOWN
from tests.cli import command, run_target, run_with_stdin_open, write_config
from tests.fake_pinterest import FakePinterest
from tests.singer import CHECKOUT, ORDERS_SCHEMA, RECENT, record_line, schema_line, state_line

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
PREFIX = "TARGET_PINTEREST_CONVERSIONS_"
PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


def _environment(**extra: str) -> dict[str, str]:
    """This process's environment without proxy settings or the target's variables."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(PREFIX) and k not in PROXY_VARIABLES + NO_PROXY_VARIABLES
    }
    return {**keep, **extra}


def _lines(n: int = 2) -> str:
    body = [schema_line(), *(record_line("orders", i) for i in range(1, n + 1))]
    return "\n".join([*body, state_line({"bookmarks": {"orders": n}})]) + "\n"


class Listener:
    """A TCP listener that records every byte sent to it and never answers."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    while chunk := conn.recv(65536):
                        self.received += chunk
                        if b"\r\n\r\n" in self.received:
                            break  # the headers are in: hang up, like a dead proxy
                except OSError:
                    pass


# 11. `--config ENV` reads ./.env only ------------------------------------------------------


def _run_env_config(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), "--config", "ENV"],
        input=_lines(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        check=False,
    )


def _env_settings(tmp_path: Path) -> dict[str, str]:
    """Everything but the token and api_url, from the environment."""
    return _environment(
        **{
            f"{PREFIX}AD_ACCOUNT_ID": ACCOUNT,
            f"{PREFIX}STREAMS": json.dumps({"orders": CHECKOUT}),
            f"{PREFIX}DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
            f"{PREFIX}MAX_TRIES": "1",
        }
    )


def test_a_dot_env_in_a_parent_folder_is_not_read(tmp_path):
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    with Listener() as trap:
        (tmp_path / ".env").write_text(
            f"{PREFIX}ACCESS_TOKEN={TOKEN}\n{PREFIX}API_URL={trap.url}\n", encoding="utf-8"
        )
        proc = _run_env_config(cwd, _env_settings(tmp_path))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Config error: access_token: required" in proc.stderr
    assert trap.connections == 0 and TOKEN.encode() not in trap.received


def test_a_dot_env_in_the_working_folder_is_read(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        (tmp_path / ".env").write_text(
            f"{PREFIX}ACCESS_TOKEN={TOKEN}\n{PREFIX}API_URL={api.url}\n", encoding="utf-8"
        )
        proc = _run_env_config(tmp_path, _env_settings(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert api.accepted_ids() == ["1", "2"]


# 12. No proxy for plain http -----------------------------------------------------------------


def test_http_proxy_never_gets_the_token_of_a_plain_http_api_url(tmp_path):
    with Listener() as proxy, FakePinterest(token=TOKEN) as api:
        config = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "max_tries": 1,
            "streams": {"orders": CHECKOUT},
        }
        proc = subprocess.run(
            [*command(), "--config", str(write_config(tmp_path, config))],
            input=_lines(),
            capture_output=True,
            text=True,
            timeout=120,
            env=_environment(**dict.fromkeys(PROXY_VARIABLES, proxy.url)),
            check=False,
        )
    assert TOKEN.encode() not in proxy.received
    assert proxy.connections == 0
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert api.accepted_ids() == ["1", "2"]


# 13. A FIFO without a reader, a token no header can carry -----------------------------------


def test_a_fifo_dead_letter_path_without_a_reader_stops_the_run_in_words(tmp_path):
    # Before, the run hung in open() for ever, and SIGTERM could not end it.
    fifo = tmp_path / "dead.fifo"
    os.mkfifo(fifo)
    config = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        "dead_letter_path": str(fifo),
        "streams": {"orders": CHECKOUT},
    }
    proc = subprocess.Popen(
        [*command(), "--config", str(write_config(tmp_path, config))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    # The record without an email is dead-lettered; stdin stays open, as with a live tap.
    proc.stdin.write(schema_line() + "\n" + record_line("orders", 1, email=None) + "\n")
    proc.stdin.flush()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # what an orchestrator would do
        try:
            proc.communicate(timeout=20)
        finally:
            proc.kill()
        raise AssertionError(f"the run did not stop by itself (then {proc.returncode})") from None
    assert proc.returncode == 1, err[-2000:]
    assert f"Stopped: dead_letter_path: {fifo}: it is a FIFO and no process is reading it" in err


def test_a_fifo_dead_letter_path_without_a_reader_still_stops_on_sigterm(tmp_path):
    fifo = tmp_path / "dead.fifo"
    os.mkfifo(fifo)
    config = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        "dead_letter_path": str(fifo),
        "streams": {"orders": CHECKOUT},
    }
    proc = subprocess.Popen(
        [*command(), "--config", str(write_config(tmp_path, config))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(_lines(1))
    proc.stdin.flush()  # stdin stays open: the run waits for more input
    # The version line is logged once the outputs were checked, just before input is read.
    for line in proc.stderr:
        if "Meltano SDK" in line:
            break
    proc.send_signal(signal.SIGTERM)
    # Open until the run ended (communicate() would close it): it must end by the
    # signal, not by an end of input that could race it.
    stdin, proc.stdin = proc.stdin, None
    try:
        proc.communicate(timeout=120)
    finally:
        proc.kill()
        stdin.close()
    assert proc.returncode == 143


def test_a_token_with_a_character_no_header_carries_is_refused_before_any_input(tmp_path):
    token = "pina_AbC\u2019dEf0123456789"  # a curly quote, pasted in
    config = {
        "ad_account_id": ACCOUNT,
        "access_token": token,
        "api_url": "http://127.0.0.1:1",
        "streams": {"orders": CHECKOUT},
    }
    result = run_with_stdin_open(tmp_path, config, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Config error: access_token:" in result.stderr
    assert token not in result.stderr and "pina_AbC" not in result.stderr


# 13. Record values never reach the log; per-account output is bounded ---------------------


def test_an_unlisted_event_name_from_a_record_is_never_logged(tmp_path):
    secret_names = [f"jane.doe{i}@example.com" for i in range(30)]
    mapping = {**CHECKOUT, "event_name_from": "kind", "event_name_fallback": "as_is"}
    del mapping["event_name"]
    lines = [schema_line()]
    lines += [record_line("orders", i, kind=name) for i, name in enumerate(secret_names, 1)]
    lines.append(state_line({"bookmarks": {"orders": len(secret_names)}}))
    config = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        "summary_path": str(tmp_path / "summary.json"),
        "streams": {"orders": mapping},
    }
    result = run_target(tmp_path, config, lines, env={f"{PREFIX}LOGLEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr[-2000:]
    summary = (tmp_path / "summary.json").read_text(encoding="utf-8")
    for text in (result.stderr, summary):
        assert not any(name.split("@")[0] in text for name in secret_names)
    warnings = json.loads(summary)["streams"]["orders"]["warnings"]
    assert list(warnings.values()) == [len(secret_names)]
    assert sum("never logged" in line for line in result.stderr.splitlines()) == 2


def test_the_summary_shows_the_busiest_ad_accounts_and_counts_the_others(tmp_path):
    schema = {**ORDERS_SCHEMA, "properties": {**ORDERS_SCHEMA["properties"], "account": {}}}
    accounts = 200
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["id"]}
        )
    ]
    n = 0
    for a in range(accounts):
        # Account 1000 + a gets 1 event, the first ACCOUNTS_SHOWN get 3: the busiest.
        for _ in range(3 if a < ACCOUNTS_SHOWN else 1):
            n += 1
            record = {"id": n, "email": f"b{n}@example.com", "ts": RECENT, "account": 1000 + a}
            lines.append(json.dumps({"type": "RECORD", "stream": "orders", "record": record}))
    lines.append(state_line({"bookmarks": {"orders": n}}))
    config = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        "summary_path": str(tmp_path / "summary.json"),
        "streams": {"orders": {**CHECKOUT, "ad_account_id": "account"}},
    }
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    busiest = {str(1000 + a) for a in range(ACCOUNTS_SHOWN)}
    assert set(report["by_ad_account"]) == busiest
    others = report["other_ad_accounts"]
    assert others["ad_accounts"] == accounts - ACCOUNTS_SHOWN
    assert others["events_written"] == accounts - ACCOUNTS_SHOWN
    account_lines = [line for line in result.stderr.splitlines() if "Summary for" in line]
    assert sum("Summary for ad account" in line for line in account_lines) == ACCOUNTS_SHOWN
    assert any(
        f"Summary for {accounts - ACCOUNTS_SHOWN} other ad accounts" in line
        for line in account_lines
    )


def test_the_refused_ad_accounts_shown_are_bounded_too():
    import logging

    from target_pinterest_conversions.context.summary import RunSummary

    summary = RunSummary()
    for a in range(50):
        summary.refuse_account(str(1000 + a), 403, "refused")
        summary.count_refused(str(1000 + a), 2 if a < ACCOUNTS_SHOWN else 1)
    report = summary.as_dict()
    assert set(report["refused_ad_accounts"]) == {str(1000 + a) for a in range(ACCOUNTS_SHOWN)}
    assert report["other_refused_ad_accounts"] == {"ad_accounts": 30, "events": 30}
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("test_exposure.refused")
    logger.addHandler(Keep())
    summary.log(logger)
    lines = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(lines) == ACCOUNTS_SHOWN + 1
    assert lines[-1] == "30 other ad accounts were refused: 30 events dead-lettered"
