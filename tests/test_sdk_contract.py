"""The contract with the SDK's record loop, pinned so an SDK upgrade cannot drift silently.

`TargetPinterestConversions._process_record_message` takes a faster route than the SDK's
own loop for streams without stream maps: the same steps, in the same order, minus the
record copy and `_sdc` handling. These tests fail when the SDK's loop changes (re-check
the fast route against it, then update the pin) and prove the public hooks are honoured
on both routes.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import inspect
import json
import textwrap
from pathlib import Path

import pytest
from singer_sdk import Target
from singer_sdk.sinks import Sink

from target_pinterest_conversions.sinks import (
    ConnectionCheckSink,
    IgnoredStreamSink,
    PinterestEventsSink,
)
from target_pinterest_conversions.target import (
    SDK_LOOP_OVERRIDES,
    SDK_LOOP_STEPS_LEFT_OUT,
    TargetPinterestConversions,
)

SDK_RECORD_LOOP_SHA256 = "08aaf4096e2d39e7c3826848feebbaac40fb7b3e67fe863576cde90e4e425dfc"
"""sha256 of the source of singer-sdk 0.54.9's ``Target._process_record_message``."""

SDK_MEMBERS_USED = {
    Target: [
        "_process_record_message",
        "_assert_sink_exists",
        "_handle_max_record_age",
        "drain_one",
        "mapper",
    ],
    Sink: [
        "_get_context",
        "_validate_and_parse",
        "preprocess_record",
        "_singer_validate_message",
        "tally_record_read",
        "process_record",
        "record_counter_metric",
        "_after_process_record",
        "is_full",
    ],
}


def test_the_sdk_record_loop_is_the_one_the_fast_route_follows():
    source = inspect.getsource(Target._process_record_message)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == SDK_RECORD_LOOP_SHA256, (
        "singer-sdk's Target._process_record_message changed: compare it with "
        "TargetPinterestConversions._process_record_message (same steps, same order, "
        "public hooks included), then update SDK_RECORD_LOOP_SHA256"
    )


@pytest.mark.parametrize(
    ("cls", "name"), [(cls, name) for cls, names in SDK_MEMBERS_USED.items() for name in names]
)
def test_the_sdk_members_the_fast_route_uses_exist(cls, name):
    assert hasattr(cls, name), f"{cls.__name__}.{name} is gone"


def test_the_sdk_keeps_active_sinks_where_the_fast_route_looks(tmp_path: Path):
    target = TargetPinterestConversions(config=_config(tmp_path))
    assert isinstance(target._sinks_active, dict)


def test_the_fast_route_calls_each_step_of_the_sdk_loop_in_its_order():
    sdk = inspect.getsource(Target._process_record_message)
    ours = inspect.getsource(TargetPinterestConversions._process_record_message)
    steps = [
        "_get_context",
        "_validate_and_parse",
        "preprocess_record",
        "_singer_validate_message",
        "tally_record_read",
        "sink.process_record(",
        "record_counter_metric.increment",
        "_after_process_record",
        "is_full",
        "_handle_max_record_age",
    ]
    for text in (sdk, ours):
        positions = [text.rindex(step) for step in steps]
        assert positions == sorted(positions), text


def _called_names(function) -> set[str]:
    """The names a function calls: ``f(...)`` and ``x.f(...)`` both give ``f``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def test_the_steps_the_fast_route_leaves_out_are_the_named_ones():
    sdk = _called_names(Target._process_record_message)
    ours = _called_names(TargetPinterestConversions._process_record_message)
    assert sdk - ours == set(SDK_LOOP_STEPS_LEFT_OUT), (
        "the fast route leaves out SDK steps that SDK_LOOP_STEPS_LEFT_OUT (target.py) "
        "does not name, or names steps it makes"
    )


def _sdk_members_replaced() -> set[str]:
    """Every member of the SDK's Target and Sink that a class of ours defines anew."""
    replaced = set()
    ours = [TargetPinterestConversions, PinterestEventsSink, IgnoredStreamSink]
    for cls in [*ours, ConnectionCheckSink]:
        base = Target if issubclass(cls, Target) else Sink
        for name in vars(cls):
            member = getattr(base, name, None)
            if not name.startswith("__") and (callable(member) or isinstance(member, property)):
                replaced.add(f"{base.__name__}.{name}")
    return replaced


# The SDK's abstract hook, which every sink implements: not a step left out.
PUBLIC_HOOKS = {"Sink.process_record"}


def test_every_sdk_loop_member_replaced_is_in_the_named_list():
    per_record = {f"Sink.{name}" for name in SDK_MEMBERS_USED[Sink]} | {
        f"Target.{name}" for name in SDK_MEMBERS_USED[Target]
    }
    per_record |= {"Sink.get_validator", "Sink.get_sink_record_counter"}
    replaced = (_sdk_members_replaced() & per_record) - PUBLIC_HOOKS
    assert replaced == set(SDK_LOOP_OVERRIDES), (
        "an SDK member of the record loop is replaced, or no longer, without "
        "SDK_LOOP_OVERRIDES (target.py) saying so"
    )


RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()


class RewritingSink(PinterestEventsSink):
    """Uses the SDK's public hook to replace every email."""

    def preprocess_record(self, record: dict, context: dict) -> dict:
        return {**record, "email": "Hook@Example.com"}


class HookedTarget(TargetPinterestConversions):
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        super().get_sink_class(stream_name)
        return RewritingSink


def _config(tmp_path: Path) -> dict:
    return {
        "ad_account_id": "549755885175",
        "dry_run": True,
        "dry_run_path": str(tmp_path / "dry.jsonl"),
        "dead_letter_path": str(tmp_path / "dead.jsonl"),
        "streams": {
            "orders": {
                "event_name": "checkout",
                "action_source": "web",
                "event_time": "ts",
                "event_id": "id",
                "user_data": {"em": "email"},
            },
        },
    }


@pytest.mark.parametrize("stream_maps", [None, {"orders": {"extra": "'x'"}}])
def test_preprocess_record_is_honoured_on_both_routes(tmp_path: Path, stream_maps):
    config = _config(tmp_path)
    if stream_maps:
        config["stream_maps"] = stream_maps
    lines = [
        {
            "type": "SCHEMA",
            "stream": "orders",
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": ["null", "string"]},
                    "ts": {"type": "string"},
                },
            },
            "key_properties": ["id"],
        },
        {"type": "RECORD", "stream": "orders", "record": {"id": 1, "email": "a@b.c", "ts": RECENT}},
    ]
    source = tmp_path / "in.singer"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    target = HookedTarget(config=config)
    with source.open() as file_input:
        target.listen(file_input)
    body = json.loads((tmp_path / "dry.jsonl").read_text().splitlines()[0])
    expected = hashlib.sha256(b"hook@example.com").hexdigest()
    assert body["data"][0]["user_data"]["em"] == [expected]
