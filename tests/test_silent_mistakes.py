"""Mistakes a new user makes that used to end silently, each met through the CLI.

A skip_when value of the wrong type for its column, a misspelt ``--config ENV`` variable,
data too old for the API, metric points that counted each record twice, and web checkouts
Pinterest cannot deduplicate against the Pinterest Tag's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from target_pinterest_conversions.target import TargetPinterestConversions
from tests.cli import command, run_target
from tests.singer import CHECKOUT, ORDERS_SCHEMA, record_line, schema_line, state_line

ACCOUNT = "549755885175"
ROOT = Path(__file__).resolve().parents[1]
PREFIX = "TARGET_PINTEREST_CONVERSIONS_"


def dry(**extra: object) -> dict:
    return {"ad_account_id": ACCOUNT, "dry_run": True, "streams": {"orders": CHECKOUT}, **extra}


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1].split(" | ", 3)[-1]


def metric_points(stderr: str) -> list[dict]:
    """The SDK metric points of a run's console log (``METRIC: {...}`` lines)."""
    return [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in stderr.splitlines()
        if "METRIC: " in line
    ]


# skip_when whose value its column can never hold ----------------------------------------

CSV_SCHEMA = {
    "type": "object",
    "properties": {**ORDERS_SCHEMA["properties"], "test": {"type": ["null", "string"]}},
}
"""What tap-csv declares: every column is text, ``test`` too."""


def csv_lines(*tests: str) -> list[str]:
    schema = {"type": "SCHEMA", "stream": "orders", "schema": CSV_SCHEMA, "key_properties": ["id"]}
    return [
        json.dumps(schema),
        *[record_line("orders", i, test=value) for i, value in enumerate(tests)],
        state_line({"at": len(tests)}),
    ]


def test_a_skip_when_boolean_against_a_text_column_is_refused_at_the_schema(tmp_path):
    mapping = {**CHECKOUT, "skip_when": {"path": "test", "equals": True}}
    result = run_target(tmp_path, dry(streams={"orders": mapping}), csv_lines("true", "false"))
    # Before, every record was sent: `true` never equals the text "true".
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stdout == ""
    assert not (tmp_path / "dry-run.jsonl").exists()  # nothing was sent
    assert (
        "Config error: streams.orders.skip_when: stream 'orders': the condition 'test equals "
        "true' compares 'test' with true, a boolean, but the schema types 'test' as string: "
        'no record can match; to compare with the text, write "true"'
    ) in result.stderr


def test_a_skip_when_value_of_the_column_s_type_works(tmp_path):
    mapping = {**CHECKOUT, "skip_when": {"path": "test", "in": ["true", "TRUE"]}}
    result = run_target(
        tmp_path, dry(streams={"orders": mapping}), csv_lines("true", "false", "TRUE")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sent = [json.loads(line) for line in (tmp_path / "dry-run.jsonl").read_text().splitlines()]
    assert [e["event_id"] for body in sent for e in body["data"]] == ["1"]


def test_a_skip_when_text_against_a_number_column_is_refused_with_the_number(tmp_path):
    mapping = {**CHECKOUT, "skip_when": {"path": "id", "not_in": ["7"]}}
    result = run_target(
        tmp_path, dry(streams={"orders": mapping}), [schema_line(), record_line("orders", 7)]
    )
    # not_in a value that never matches would have skipped every record.
    assert result.returncode == 2, result.stderr[-3000:]
    assert (
        "compares 'id' with \"7\", a text, but the schema types 'id' as integer: no record "
        "can match; to compare with the number, write 7"
    ) in result.stderr


# --config ENV with a variable that is no setting ------------------------------------------


def run_env(tmp_path: Path, env: dict[str, str], lines: list[str]) -> subprocess.CompletedProcess:
    base = {
        f"{PREFIX}AD_ACCOUNT_ID": ACCOUNT,
        f"{PREFIX}ACCESS_TOKEN": "a-real-token",
        f"{PREFIX}API_URL": "http://127.0.0.1:9",  # nothing listens: a live run fails fast
        f"{PREFIX}MAX_TRIES": "1",
        f"{PREFIX}STREAMS": json.dumps({"orders": CHECKOUT}),
        f"{PREFIX}DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        f"{PREFIX}DRY_RUN_PATH": str(tmp_path / "dry.jsonl"),
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    return subprocess.run(
        [*command(), "--config", "ENV"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**clean, **base, **env},
        check=False,
    )


def test_a_misspelt_env_variable_stops_before_the_input_naming_the_setting(tmp_path):
    # DRYRUN for DRY_RUN beside a real token: ignored, the run would have been live.
    result = run_env(
        tmp_path, {f"{PREFIX}DRYRUN": "true"}, [schema_line(), record_line("orders", 1)]
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert last_line(result.stderr) == (
        f"Config error: {PREFIX}DRYRUN: unknown setting; did you mean 'dry_run' ({PREFIX}DRY_RUN)?"
    )
    assert "a-real-token" not in result.stderr
    assert not (tmp_path / "dead.jsonl").exists()


def test_the_sdk_s_and_meltano_s_variables_of_the_prefix_are_accepted(tmp_path):
    env = {
        f"{PREFIX}DRY_RUN": "true",
        f"{PREFIX}LOGLEVEL": "INFO",  # the SDK's log level
        f"{PREFIX}LOAD_METHOD": "append-only",  # an SDK setting
        f"{PREFIX}_DIALECT": "pinterest",  # Meltano's extras: two underscores
        f"{PREFIX}_TARGET_SCHEMA": "tap_csv",
        f"{PREFIX}FAKER_CONFIG_LOCALE": "en_US",  # Meltano's form of faker_config.locale
        f"{PREFIX}BATCH_CONFIG_STORAGE_ROOT": "file:///tmp",
    }
    result = run_env(tmp_path, env, [schema_line(), record_line("orders", 1), state_line(1)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "1"


def _meltano_setting_names() -> set[str]:
    names = set()
    for path in (ROOT / "meltano.yml", ROOT / "plugin/loaders/target-pinterest-conversions.yml"):
        spec = yaml.safe_load(path.read_text())
        loaders = spec.get("plugins", {}).get("loaders") or [spec]
        for loader in loaders:
            names |= {s["name"] for s in loader.get("settings", [])}
    return names


def test_every_variable_meltano_sets_for_the_loader_is_accepted():
    from target_pinterest_conversions.settings import unknown_env_settings

    names = _meltano_setting_names()
    assert {"access_token", "batch_config.storage.root", "faker_config.seed"} <= names
    # Meltano names a setting's variable by its name, dots as underscores; extras with `_`.
    environ = {PREFIX + n.upper().replace(".", "_"): "x" for n in names}
    environ |= {f"{PREFIX}_DIALECT": "x", f"{PREFIX}_TARGET_SCHEMA": "x"}
    schema = TargetPinterestConversions.config_jsonschema
    TargetPinterestConversions.append_builtin_config(schema)
    assert unknown_env_settings(schema, PREFIX, environ) == []


# Data too old for the API -------------------------------------------------------------------


def test_too_many_rejections_for_age_say_the_data_is_too_old_and_how_to_send_it(tmp_path):
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)).isoformat()
    lines = [schema_line(), *[record_line("orders", i, ts=old) for i in range(120)]]
    result = run_target(tmp_path, dry(), [*lines, state_line(1)])
    assert result.returncode == 6, result.stderr[-3000:]
    stop = next(line for line in result.stderr.splitlines() if "Stopped: " in line)
    assert "check the mapping" not in stop
    assert "120 of 120 records were rejected, more than max_rejected_ratio 0.5 allows; " in stop
    assert "120 of them are too old (event_time is more than 7 days old" in stop
    assert "The mapping is not at fault: set the tap's start date within the last 7 days" in stop
    assert "use output: api+csv to send the recent events and write those up to 28" in stop
    assert "or raise max_rejected_ratio above 0.5 (1 never stops)" in stop


# Metric points: each record counted once, at the progress interval ------------------------


def test_each_record_is_counted_once_in_record_count(tmp_path):
    n = 250
    lines = [schema_line(), *[record_line("orders", i) for i in range(n)], state_line(1)]
    result = run_target(tmp_path, dry(batch_size_rows=100), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    points = metric_points(result.stderr)
    records = [p for p in points if p["metric"] == "record_count"]
    assert sum(p["value"] for p in records) == n  # the SDK's count of records read
    assert all("status" not in p["tags"] for p in records)
    outcomes = [p for p in points if p["metric"] == "outcome_count"]
    assert {p["tags"]["status"] for p in outcomes} == {"written"}
    assert sum(p["value"] for p in outcomes) == n


def test_with_progress_after_every_batch_record_count_comes_per_batch_not_per_record(
    tmp_path,
):
    n = 250
    lines = [schema_line(), *[record_line("orders", i) for i in range(n)], state_line(1)]
    result = run_target(tmp_path, dry(batch_size_rows=50, progress_interval=0), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [p for p in metric_points(result.stderr) if p["metric"] == "record_count"]
    # Five batches of 50: one point each (the SDK logged one a minute, whatever the setting).
    assert [p["value"] for p in records] == [50] * 5


@pytest.mark.parametrize("interval", [5, 3600])
def test_a_short_run_logs_record_count_once(tmp_path, interval):
    n = 120
    lines = [schema_line(), *[record_line("orders", i) for i in range(n)], state_line(1)]
    result = run_target(tmp_path, dry(batch_size_rows=10, progress_interval=interval), lines)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [p for p in metric_points(result.stderr) if p["metric"] == "record_count"]
    assert [p["value"] for p in records] == [n]


@pytest.mark.parametrize(
    ("mapping", "warned"),
    [
        ({k: v for k, v in CHECKOUT.items() if k != "event_id"}, True),
        (CHECKOUT, False),
        (
            {
                **{k: v for k, v in CHECKOUT.items() if k != "event_id"},
                "custom_data": {"order_id": "id"},
            },
            False,
        ),
        (
            {**{k: v for k, v in CHECKOUT.items() if k != "event_id"}, "action_source": "app_ios"},
            False,
        ),
    ],
    ids=["neither", "event-id", "order-id", "not-web"],
)
def test_web_checkouts_that_pinterest_cannot_deduplicate_against_the_tag_are_named(
    tmp_path, mapping, warned
):
    result = run_target(
        tmp_path, dry(streams={"orders": mapping}), [schema_line(), record_line("orders", 1)]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    warning = "streams.orders: web checkout events carry neither event_id nor custom_data.order_id"
    assert (warning in result.stderr) is warned
