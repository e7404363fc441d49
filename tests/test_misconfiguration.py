"""No silent success: each misconfiguration fails loudly through the CLI, and a run says
what it does (mode first, outcome last, Pinterest's warnings apart from ours)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli import command, run_target, run_with_stdin_open, write_config
from tests.fake_pinterest import FakePinterest, Scripted
from tests.singer import CHECKOUT, record_line, schema_line, state_line

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
MAPPING = CHECKOUT


def schema(stream: str) -> str:
    return schema_line(stream)


def record(stream: str, i: int) -> str:
    return record_line(stream, i)


def state(value: object) -> str:
    return state_line({"bookmarks": {"at": value}})


def dry(tmp_path: Path, **extra: object) -> dict:
    return {"ad_account_id": ACCOUNT, "dry_run": True, "streams": {"orders": MAPPING}, **extra}


def live(api: FakePinterest, **extra: object) -> dict:
    return {
        "ad_account_id": ACCOUNT,
        "access_token": TOKEN,
        "api_url": api.url,
        "max_tries": 2,
        "streams": {"orders": MAPPING},
        **extra,
    }


def log_lines(stderr: str) -> list[str]:
    """The target's log lines (console format: time | level | logger | message)."""
    return [line.split(" | ", 3)[-1] for line in stderr.splitlines() if " | " in line]


# 1. A stream in the input with no mapping ----------------------------------------------


def test_a_typo_in_a_stream_name_stops_before_its_records_and_writes_no_state_past_it(
    tmp_path,
):
    lines = [
        schema("orders"),
        record("orders", 1),
        state(1),
        schema("order"),
        record("order", 2),
        state(2),
    ]
    summary = tmp_path / "summary.json"
    result = run_target(tmp_path, dry(tmp_path, summary_path=str(summary)), lines)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert (
        "stream 'order' is in the input but has no mapping (configured: 'orders'); "
        "did you mean 'orders'?" in result.stderr
    )
    assert "unmapped_streams" in result.stderr
    # STATE before the unmapped stream may be written once its records are delivered;
    # nothing past the unmapped stream's SCHEMA ever is.
    assert {"bookmarks": {"at": 2}} not in result.states
    assert result.states in ([], [{"bookmarks": {"at": 1}}])
    report = json.loads(summary.read_text())
    assert report["exit_code"] == 2
    assert report["status"] == "failed"
    assert "did you mean 'orders'?" in report["message"]
    assert report["streams"]["orders"]["records_read"] == 1
    assert "order" not in report["streams"]


def test_an_unmapped_stream_alone_stops_the_run_before_any_record(tmp_path):
    lines = [schema("customers"), record("customers", 1), state(1)]
    result = run_target(tmp_path, dry(tmp_path), lines)
    assert result.returncode == 2
    assert "stream 'customers' is in the input but has no mapping" in result.stderr
    assert result.states == []
    assert not (tmp_path / "dry-run.jsonl").exists() or not (tmp_path / "dry-run.jsonl").read_text()


def test_unmapped_streams_ignore_keeps_counting_and_skipping_them(tmp_path):
    lines = [
        schema("orders"),
        record("orders", 1),
        schema("customers"),
        record("customers", 7),
        record("customers", 8),
        state(3),
    ]
    summary = tmp_path / "summary.json"
    config = dry(tmp_path, unmapped_streams="ignore", summary_path=str(summary))
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Stream 'customers' is not listed in the `streams` setting" in result.stderr
    assert result.states[-1] == {"bookmarks": {"at": 3}}
    report = json.loads(summary.read_text())
    assert report["ignored_streams"] == {"customers": 2}
    assert report["streams"]["orders"]["events_written"] == 1


def test_a_bad_unmapped_streams_value_is_a_config_error_with_a_suggestion(tmp_path):
    result = run_target(tmp_path, dry(tmp_path, unmapped_streams="ignored"), [])
    assert result.returncode == 2
    assert "unmapped_streams: must be one of fail, ignore; did you mean 'ignore'?" in (
        result.stderr
    )


# 2. A configured stream that never appears -----------------------------------------------


def test_a_configured_stream_missing_from_the_input_is_warned_and_listed(tmp_path):
    streams = {"orders": MAPPING, "refunds": MAPPING}
    summary = tmp_path / "summary.json"
    config = {**dry(tmp_path, summary_path=str(summary)), "streams": streams}
    result = run_target(tmp_path, config, [schema("orders"), record("orders", 1), state(1)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Stream 'refunds' is configured in `streams` but was not in the input" in (result.stderr)
    assert json.loads(summary.read_text())["streams_not_in_input"] == ["refunds"]


# 3. Unknown top-level settings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("dryrun", "did you mean 'dry_run'?"),
        ("stream", "did you mean 'streams'?"),
        ("event_nmae", "'event_name' is a key of a stream's mapping: put it under streams."),
        ("summary-path", "did you mean 'summary_path'?"),
        ("zzz_qqq", "see --about for the settings"),
    ],
)
def test_an_unknown_setting_stops_before_stdin_naming_the_nearest(tmp_path, key, hint):
    with FakePinterest(token=TOKEN) as api:
        # stdin stays open: the target must stop without waiting to read it.
        result = run_with_stdin_open(tmp_path, {**live(api), key: True}, timeout=60)
    out, err = result.stdout, result.stderr
    assert result.returncode == 2, err[-3000:]
    assert f"Config error: {key}: unknown setting; {hint}" in err
    assert "Traceback" not in err
    assert out == ""
    assert api.requests == []


def test_dryrun_typo_beside_a_token_never_sends(tmp_path):
    with FakePinterest(token=TOKEN) as api:
        config = {**live(api), "dryrun": True}
        result = run_target(tmp_path, config, [schema("orders"), record("orders", 1), state(1)])
    assert result.returncode == 2
    assert "dryrun: unknown setting; did you mean 'dry_run'?" in result.stderr
    assert api.requests == []
    assert result.states == []
    assert TOKEN not in result.stderr


def test_settings_the_sdk_and_meltano_pass_are_accepted(tmp_path):
    config = dry(
        tmp_path,
        load_method="append-only",
        add_record_metadata=False,
        batch_size_rows=500,
        validate_records=True,
        hard_delete=False,
        default_target_schema="ignored",
        process_activate_version_messages=False,
        flattening_enabled=False,
        flattening_max_depth=3,
        stream_maps={},
        stream_map_config={},
    )
    result = run_target(tmp_path, config, [schema("orders"), record("orders", 1), state(1)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"bookmarks": {"at": 1}}]


def test_config_env_names_the_settings_it_read_and_not_the_sdks_skip_line(tmp_path):
    # The SDK logs "Skipping parse of env var settings..." because this target reads the
    # environment itself (env_config): under --config ENV it looked as if nothing was read.
    env = {
        "TARGET_PINTEREST_CONVERSIONS_AD_ACCOUNT_ID": ACCOUNT,
        "TARGET_PINTEREST_CONVERSIONS_DRY_RUN": "true",
        "TARGET_PINTEREST_CONVERSIONS_DRY_RUN_PATH": str(tmp_path / "dry.jsonl"),
        "TARGET_PINTEREST_CONVERSIONS_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        "TARGET_PINTEREST_CONVERSIONS_STREAMS": json.dumps({"orders": MAPPING}),
    }
    proc = subprocess.run(
        [*command(), "--config", "ENV"],
        input="\n".join([schema("orders"), record("orders", 1), state(1)]) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Skipping parse of env var settings" not in proc.stderr
    (line,) = [
        line for line in proc.stderr.splitlines() if "Settings read from the environment" in line
    ]
    assert line.endswith(
        "(--config ENV: TARGET_PINTEREST_CONVERSIONS_* variables and ./.env): "
        "ad_account_id, dead_letter_path, dry_run, dry_run_path, streams"
    ), line
    assert ACCOUNT not in line  # names, never values


def test_a_config_file_run_logs_no_env_settings_line(tmp_path):
    result = run_target(tmp_path, dry(tmp_path), [schema("orders"), record("orders", 1), state(1)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Skipping parse of env var settings" not in result.stderr
    assert "Settings read from the environment" not in result.stderr


# 4. Config files that cannot be read --------------------------------------------------------


def _run_with_config_arg(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), "--config", str(path)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("dir", "is a directory, not a JSON file"),
        (
            '{\n  "ad_account_id": "1",\n  "dry_run": true\n  "streams": {}\n}',
            ("invalid JSON at line 4 column 3: Expecting ',' delimiter"),
        ),
        ("", "invalid JSON at line 1 column 1: Expecting value"),
        ('["not", "an", "object"]', "must hold a JSON object of settings, not list"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
    ],
)
def test_a_missing_or_broken_config_file_is_one_line_and_exit_2(tmp_path, content, problem):
    path = tmp_path / "config.json"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = _run_with_config_arg(tmp_path, path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in log_lines(result.stderr) if "Config error" in line]
    assert errors == [f"Config error: {path}: {problem}"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_config_file_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0)
    result = _run_with_config_arg(tmp_path, path)
    assert result.returncode == 2
    assert f"Config error: {path}: cannot be read (permission denied)" in result.stderr


def test_a_broken_config_file_never_echoes_its_content(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"access_token": "secret-token-123", "streams": ')
    result = _run_with_config_arg(tmp_path, path)
    assert result.returncode == 2
    assert "secret-token-123" not in result.stderr


# 5. Event names Pinterest does not list ---------------------------------------------------


def test_an_unlisted_event_name_is_warned_once_at_start_up_with_the_nearest(tmp_path):
    config = dry(tmp_path, streams={"orders": {**MAPPING, "event_name": "purchase"}})
    lines = [schema("orders"), *[record("orders", i) for i in range(5)], state(1)]
    summary = tmp_path / "summary.json"
    result = run_target(tmp_path, {**config, "summary_path": str(summary)}, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = log_lines(result.stderr)
    warned = [
        line.split(" | ", 3)[-1]
        for line in result.stderr.splitlines()
        if "| WARNING " in line and "'purchase' is not a Pinterest event name" in line
    ]
    assert warned == [
        "streams.orders: 'purchase' is not a Pinterest event name; did you mean 'checkout'? "
        "(it is sent as written, and Pinterest may not report it)",
    ]
    # ... before any record is read: it is among the start-up lines.
    assert messages.index(warned[0]) < next(
        i for i, m in enumerate(messages) if m.startswith("Reader ")
    )
    report = json.loads(summary.read_text())
    stream = report["streams"]["orders"]
    assert stream["warnings"] == {"event_name 'purchase' is not a Pinterest event name": 5}
    # A dry run attributes nothing to Pinterest.
    assert stream["pinterest_warnings"] == {}
    assert stream["events_sent"] == stream["processed"] == stream["failed_at_pinterest"] == 0
    assert stream["events_written"] == 5
    assert "Pinterest warning" not in result.stderr


def test_pinterest_warnings_are_counted_apart_from_ours(tmp_path):
    config_streams = {"orders": {**MAPPING, "event_name": "purchase"}}
    lines = [schema("orders"), record("orders", 1), record("orders", 2), state(1)]
    answer = {
        "num_events_received": 2,
        "num_events_processed": 2,
        "events": [
            {"status": "processed", "error_message": "", "warning_message": "Unknown event name"},
            {"status": "processed", "error_message": "", "warning_message": ""},
        ],
    }
    summary = tmp_path / "summary.json"
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=200, body=answer))
        config = live(api, streams=config_streams, summary_path=str(summary))
        result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    stream = json.loads(summary.read_text())["streams"]["orders"]
    assert stream["pinterest_warnings"] == {"Unknown event name": 1}
    assert stream["warnings"] == {"event_name 'purchase' is not a Pinterest event name": 2}
    assert stream["processed"] == 2
    assert stream["events_written"] == 0
    messages = log_lines(result.stderr)
    assert "  stream 'orders' Pinterest warning 1 x: Unknown event name" in messages
    assert (
        "  stream 'orders' target warning 2 x: event_name 'purchase' is not a Pinterest event name"
        in messages
    )


# 6. Say what is happening ------------------------------------------------------------------


def test_the_first_line_says_dry_run_and_the_last_the_outcome_with_time_and_rate(tmp_path):
    lines = [schema("orders"), *[record("orders", i) for i in range(3)], state(1)]
    summary = tmp_path / "summary.json"
    result = run_target(tmp_path, dry(tmp_path, summary_path=str(summary)), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = log_lines(result.stderr)
    assert messages[0] == f"DRY RUN: request bodies to {tmp_path / 'dry-run.jsonl'}"
    assert messages[-1].startswith(
        f"Run succeeded in {json.loads(summary.read_text())['elapsed_seconds']:.1f}s "
        f"(DRY RUN: request bodies to {tmp_path / 'dry-run.jsonl'}): 3 records read, "
        "3 events written, 0 dead-lettered, 0 skipped; "
    )
    assert messages[-1].endswith(" events/s")
    report = json.loads(summary.read_text())
    assert report["mode"] == messages[0]
    assert report["elapsed_seconds"] > 0
    assert report["events_per_second"] == pytest.approx(3 / report["elapsed_seconds"], rel=0.05)
    assert report["totals"]["events_written"] == 3


@pytest.mark.parametrize("test_mode", [False, True])
def test_the_first_line_says_live_with_host_account_and_test_mode(tmp_path, test_mode):
    with FakePinterest(token=TOKEN) as api:
        config = live(api, test_mode=test_mode)
        result = run_target(tmp_path, config, [schema("orders"), record("orders", 1), state(1)])
        host = api.url.removeprefix("http://")
    assert result.returncode == 0, result.stderr[-3000:]
    suffix = ", test mode" if test_mode else ""
    messages = log_lines(result.stderr)
    assert messages[0] == f"LIVE: {host}, ad account {ACCOUNT}{suffix}"
    assert messages[-1].startswith("Run succeeded in ")
    assert (
        f"(LIVE: {host}, ad account {ACCOUNT}{suffix}): 1 records read, 1 events sent, "
        in (messages[-1])
    )


def test_a_failed_run_ends_with_its_cause(tmp_path):
    with FakePinterest(token="another-token") as api:
        result = run_target(tmp_path, live(api), [schema("orders"), record("orders", 1)])
    assert result.returncode == 3
    last = log_lines(result.stderr)[-1]
    assert last.startswith("Run failed (exit code 3) in ")
    assert last.endswith(
        "Stopped: the access token was rejected (401): check access_token; it "
        "must be a conversion access token from Ads Manager or an OAuth token "
        "with ads:write"
    )


def _structured_logging(tmp_path: Path) -> dict[str, str]:
    """Log as Meltano does for plugins with `structured-logging`: the SDK's JSON formatter."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "singer_sdk.logging.StructuredFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"level": "INFO", "handlers": ["console"]},
    }
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(config))
    return {"SINGER_SDK_LOG_CONFIG": str(path)}


def test_progress_counters_and_timings_reach_structured_logs_as_fields(tmp_path):
    n = 250
    lines = [schema("orders"), *[record("orders", i) for i in range(n)], state(1)]
    with FakePinterest(token=TOKEN) as api:
        config = live(api, batch_size_rows=100, progress_interval=0)
        path = write_config(tmp_path, config)
        proc = subprocess.run(
            [*command(), "--config", str(path)],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **_structured_logging(tmp_path)},
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert logs, proc.stderr[-2000:]
    progress = [e for e in logs if e["message"].startswith("Progress for stream 'orders'")]
    assert progress, "no progress line"
    last = progress[-1]
    assert last["stream_name"] == "orders"
    assert last["extra"]["counts"]["records_read"] <= n
    assert last["extra"]["counts"]["processed"] >= 100
    summary = [e for e in logs if e["message"].startswith("Summary for stream 'orders'")]
    assert summary[0]["extra"]["counts"]["processed"] == n
    final = logs[-1]
    assert final["message"].startswith("Run succeeded in ")
    assert final["extra"]["counts"]["processed"] == n

    points = [e["metric_info"] for e in logs if e.get("metric_info")]
    outcome = [
        p
        for p in points
        if p["metric"] == "outcome_count" and p["tags"].get("status") == "processed"
    ]
    assert sum(p["value"] for p in outcome) == n
    timings = [p for p in points if p["metric"] == "http_request_duration"]
    assert len(timings) == 3  # 250 events in requests of 100
    assert {p["tags"]["http_status_code"] for p in timings} == {200}
    assert {p["tags"]["status"] for p in timings} == {"succeeded"}
    assert all(p["type"] == "timer" and p["value"] >= 0 for p in timings)
    assert TOKEN not in proc.stderr


def test_progress_is_throttled_to_the_interval(tmp_path):
    n = 400
    lines = [schema("orders"), *[record("orders", i) for i in range(n)], state(1)]
    with FakePinterest(token=TOKEN, delay=0.3) as api:
        config = live(api, batch_size_rows=50, max_parallel_requests=1, progress_interval=1)
        result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-3000:]
    # 8 batches at 0.3 s each. Throttled means at least a second between two progress
    # lines, read from the lines' own timestamps: a loaded machine makes the run slower
    # (and may allow a line per batch), never the lines closer together.
    stamps = [
        dt.datetime.strptime(line.split(" | ", 1)[0], "%Y-%m-%d %H:%M:%S,%f")
        for line in result.stderr.splitlines()
        if " | " in line and line.split(" | ", 3)[-1].startswith("Progress for stream")
    ]
    assert stamps, result.stderr[-3000:]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(stamps)]
    assert all(gap >= 0.99 for gap in gaps), gaps  # the log's clock has millisecond steps
