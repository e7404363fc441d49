"""One bad record never stops the pipeline: hostile values through the CLI, and their rules.

Numbers too large for Pinterest's types (``int64``, a double), numbers whose text would
not fit in memory, ``NaN`` and ``Infinity``, lone surrogate escapes and booleans where
numbers are expected: each record holding one is dead-lettered with a specific reason, or
its value is left out and counted where the event stays valid; the records around it are
delivered, the run exits 0 and the last STATE covers every record, on a re-run too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import resource
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.errors import InputError
from target_pinterest_conversions.pinterest.limits import (
    DOUBLE_MAX,
    DOUBLE_MIN,
    INT64_MAX,
    INT64_MIN,
    MAX_NUMBER_DIGITS,
    InvalidText,
    in_double_range,
    json_safe,
    mark_invalid_text,
    number_text,
)
from target_pinterest_conversions.reader import SafeMessageReader
from tests.cli import run_target
from tests.fake_pinterest import FakePinterest

TOKEN = "test-token-XYZ"
ACCOUNT = "549755885175"
RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)).replace(microsecond=0)

ANY = {"type": ["null", "boolean", "integer", "number", "string"]}
SCHEMA = {
    "type": "object",
    "properties": {
        "id": ANY,
        "ts": ANY,
        "email": ANY,
        "ip": ANY,
        "ua": ANY,
        "cust": ANY,
        "phone": ANY,
        "zip": ANY,
        # A tap's precision annotation: it must not stop the run either.
        "value": {**ANY, "multipleOf": 0.01},
        "n": ANY,
        "order": ANY,
        "items": {
            "type": ["null", "array"],
            "items": {"type": "object", "properties": {"sku": ANY, "q": ANY, "p": ANY}},
        },
    },
}
MAPPING = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {
        "em": "email",
        "external_id": "cust",
        "ph": "phone",
        "zp": "zip",
        "client_ip_address": "ip",
        "client_user_agent": "ua",
    },
    "custom_data": {"value": "value", "num_items": "n", "order_id": "order"},
    "contents": {"from": "items", "id": "sku", "quantity": "q", "item_price": "p"},
}
NAMED_SCHEMA = {
    "type": "object",
    "properties": {"id": ANY, "ts": ANY, "email": ANY, "kind": ANY, "channel": ANY},
}
NAMED_MAPPING = {
    "event_name_from": "kind",
    "event_name_map": "segment",
    "event_name_fallback": "as_is",
    "action_source_from": "channel",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email"},
}

SURROGATE_EMAIL = '"\\ud800x@example.com"'  # JSON text: a lone high surrogate escape
TWO_TO_64 = str(2**64)
NAN_UNICODE = "em is not valid Unicode (it holds a lone surrogate)"
TOO_LONG_ID = f"external_id is a number of more than {MAX_NUMBER_DIGITS} digits"
OUT_OF_INT64 = "is out of range (Pinterest takes a 64-bit integer)"
OUT_OF_DOUBLE = "is out of range (Pinterest reads it as a double)"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Case:
    """A hostile record: JSON fragments over a normal record, and what must become of it."""

    name: str
    fields: dict[str, str]
    reason: str | None = None  # dead-lettered with this reason; None: delivered
    key: object = None  # the dead-letter key's id, when not the record's own
    sent: dict[str, Any] | None = None  # fields the delivered event must have


CASES = [
    # event_time: int64 Unix seconds
    Case("event_time 1e22 ms", {"ts": "1e22"}, "event_time is out of range"),
    Case("event_time 2^64 s in ms", {"ts": TWO_TO_64 + "000"}, "event_time is out of range"),
    Case("event_time 1e999999", {"ts": "1e999999"}, "event_time is out of range"),
    Case("event_time digit text", {"ts": json.dumps("1" * 200_000)}, "event_time is out of range"),
    Case("event_time negative ms", {"ts": "-1000000000000000"}, "event_time is not a valid Unix"),
    Case("event_time NaN", {"ts": "NaN"}, "event_time is not a valid Unix timestamp"),
    Case("event_time Infinity", {"ts": "Infinity"}, "event_time is not a valid Unix timestamp"),
    Case("event_time boolean", {"ts": "true"}, "event_time is a boolean, not a time"),
    # num_items and quantity: int64
    Case("num_items 2^64", {"n": TWO_TO_64}, f"custom_data.num_items {OUT_OF_INT64}"),
    Case(
        "num_items int64 max + 1",
        {"n": str(INT64_MAX + 1)},
        f"custom_data.num_items {OUT_OF_INT64}",
    ),
    Case(
        "num_items int64 min - 1",
        {"n": str(INT64_MIN - 1)},
        f"custom_data.num_items {OUT_OF_INT64}",
    ),
    Case("num_items 1e999999", {"n": "1e999999"}, f"custom_data.num_items {OUT_OF_INT64}"),
    Case(
        "num_items digit text",
        {"n": json.dumps("9" * 100_000)},
        f"custom_data.num_items {OUT_OF_INT64}",
    ),
    Case("num_items boolean", {"n": "true"}, "custom_data.num_items is a boolean, not a number"),
    Case("num_items NaN", {"n": "NaN"}, "custom_data.num_items is not a finite number"),
    Case("num_items int64 max", {"n": str(INT64_MAX)}, sent={"num_items": INT64_MAX}),
    Case("num_items int64 min", {"n": str(INT64_MIN)}, sent={"num_items": INT64_MIN}),
    Case(
        "quantity 2^64",
        {"items": f'[{{"sku": "a", "q": {TWO_TO_64}, "p": "1"}}]'},
        f"contents[0].quantity {OUT_OF_INT64}",
    ),
    Case(
        "quantity boolean",
        {"items": '[{"sku": "a", "q": true, "p": "1"}]'},
        "contents[0].quantity is a boolean, not a number",
    ),
    Case(
        "quantities summing past int64",
        {"n": "null", "items": f'[{{"q": {2**62}}}, {{"q": {2**62}}}]'},
        "custom_data.num_items, the sum of the contents' quantities, " + OUT_OF_INT64,
    ),
    # value and item_price: decimal strings Pinterest reads as doubles
    Case("value NaN", {"value": "NaN"}, "custom_data.value is not a finite number"),
    Case("value -Infinity", {"value": "-Infinity"}, "custom_data.value is not a finite number"),
    Case("value 1e999999", {"value": "1e999999"}, f"custom_data.value {OUT_OF_DOUBLE}"),
    Case("value 1e-999999", {"value": "1e-999999"}, f"custom_data.value {OUT_OF_DOUBLE}"),
    Case(
        "value text 1e999999999999",
        {"value": '"1e999999999999"'},
        f"custom_data.value {OUT_OF_DOUBLE}",
    ),
    Case("value 1.8e308", {"value": "1.8e308"}, f"custom_data.value {OUT_OF_DOUBLE}"),
    Case("value of 5000 digits", {"value": "1" + "0" * 4999}, f"custom_data.value {OUT_OF_DOUBLE}"),
    Case("value boolean", {"value": "true"}, "custom_data.value is a boolean, not a number"),
    Case(
        "value at a double's max",
        {"value": "1.7976931348623157e308"},
        sent={"value": "17976931348623157" + "0" * 292},
    ),
    Case(
        "item_price 1e999999",
        {"items": '[{"sku": "a", "q": 1, "p": 1e999999}]'},
        f"contents[0].item_price {OUT_OF_DOUBLE}",
    ),
    Case(
        "value derived past a double",
        {"value": "null", "items": '[{"sku": "a", "q": 10, "p": "1e308"}]'},
        f"custom_data.value {OUT_OF_DOUBLE}",
    ),
    # numbers in hashed fields: written out in full, up to 4300 digits
    Case(
        "1e28 in external_id, ph and zp",
        {"cust": "1e28", "phone": "1e28", "zip": "1e28"},
        sent={"external_id": [sha("1" + "0" * 28)], "zp": [sha("1" + "0" * 28)]},
    ),
    Case("external_id 1e999999", {"cust": "1e999999"}, sent={}),
    Case(
        "external_id of 4300 digits",
        {"cust": "1" + "0" * 4299},
        sent={"external_id": [sha("1" + "0" * 4299)]},
    ),
    Case("external_id of 4301 digits", {"cust": "1" + "0" * 4300}, sent={}),
    # lone surrogates
    Case("email lone surrogate, IP and user agent too", {"email": SURROGATE_EMAIL}, sent={}),
    Case(
        "email lone surrogate, no other match key",
        {"email": SURROGATE_EMAIL, "ip": "null"},
        "user_data has no match key",
    ),
    Case(
        "order_id lone surrogate",
        {"order": '"#\\udc00"'},
        "custom_data.order_id is not valid Unicode (it holds a lone surrogate)",
    ),
    Case(
        "event_id lone surrogate in the key",
        {"id": '"k\\ud800"'},
        "event_id is not valid Unicode (it holds a lone surrogate)",
        key="k\\ud800",
    ),
    Case(
        "key of 2^64, no match key",
        {"id": TWO_TO_64, "email": "null", "ip": "null"},
        "user_data has no match key",
        key=TWO_TO_64,
    ),
    Case(
        "NaN and a lone surrogate in fields not mapped",
        {"junk": "NaN", "junk2": '"\\ud800"'},
        sent={},
    ),
]
"""Each hostile value, and what becomes of its record."""

DROPPED = {
    NAN_UNICODE: 2,
    "ph is not a phone number (7 to 15 digits expected)": 1,
    TOO_LONG_ID: 2,
}
"""Values left out of events, counted in the summary, as ``field reason``."""

NAMED_CASES = [
    Case(
        "event name lone surrogate", {"kind": '"\\ud800"'}, "event name field is not valid Unicode"
    ),
    Case(
        "action_source lone surrogate",
        {"channel": '"web\\udfff"'},
        "action_source field is not valid Unicode",
    ),
]


def record_line(stream: str, fields: dict[str, str]) -> str:
    body = ", ".join(f"{json.dumps(name)}: {text}" for name, text in fields.items())
    return f'{{"type": "RECORD", "stream": "{stream}", "record": {{{body}}}}}'


def normal(i: int) -> dict[str, str]:
    values = {
        "id": i,
        "ts": RECENT.isoformat(),
        "email": f"u{i}@example.com",
        "ip": "203.0.113.9",
        "ua": "Mozilla/5.0",
        "order": f"#{i}",
        "value": Decimal("12.34"),
        "n": 2,
        "items": [{"sku": "a", "q": 2, "p": "6.17"}],
    }
    return {k: json.dumps(v, default=str) if k != "value" else str(v) for k, v in values.items()}


def named_id(i: int) -> int:
    return 3000 + i


def named(i: int) -> dict[str, str]:
    values = {
        "id": i,
        "ts": RECENT.isoformat(),
        "email": f"u{i}@example.com",
        "kind": "Order Completed",
        "channel": "web",
    }
    return {k: json.dumps(v) for k, v in values.items()}


def hostile_id(stream: str, index: int) -> int:
    return (1000 if stream == "orders" else 2000) + index


def input_lines() -> tuple[list[str], list[dict[str, Any]]]:
    """A normal record before each hostile one, a STATE after each pair; and the STATEs."""
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": SCHEMA, "key_properties": ["id"]}
        ),
        json.dumps(
            {"type": "SCHEMA", "stream": "named", "schema": NAMED_SCHEMA, "key_properties": ["id"]}
        ),
    ]
    states = []
    position = 0
    for stream, cases, base in (("orders", CASES, normal), ("named", NAMED_CASES, named)):
        for index, case in enumerate(cases):
            position += 1
            normal_id = index if stream == "orders" else named_id(index)
            lines.append(record_line(stream, base(normal_id)))
            lines.append(record_line(stream, {**base(hostile_id(stream, index)), **case.fields}))
            state = {"bookmarks": {"position": position}}
            states.append(state)
            lines.append(json.dumps({"type": "STATE", "value": state}))
    for i in range(500, 510):  # normal records after the last hostile one
        lines.append(record_line("orders", normal(i)))
        lines.append(record_line("named", named(named_id(i))))
    state = {"bookmarks": {"position": "end"}}
    states.append(state)
    lines.append(json.dumps({"type": "STATE", "value": state}))
    return lines, states


def assert_sendable(event: dict[str, Any]) -> None:
    """Pinterest's integer and double limits hold for every number an event carries."""
    assert INT64_MIN <= event["event_time"] <= INT64_MAX
    custom = event.get("custom_data", {})
    if "num_items" in custom:
        assert INT64_MIN <= custom["num_items"] <= INT64_MAX
    for item in custom.get("contents", []):
        if "quantity" in item:
            assert INT64_MIN <= item["quantity"] <= INT64_MAX
    for text in [custom.get("value"), *(i.get("item_price") for i in custom.get("contents", []))]:
        if text is not None:
            assert len(text) < 400
            assert in_double_range(Decimal(text))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_run(
    result: Any, states: list[dict], events: list[dict], dead: list[dict], summary: dict
) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # STATE covers every record: the last one is the input's last, none comes out of order.
    assert result.states[-1] == states[-1]
    assert result.states == sorted(result.states, key=states.index)

    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events)
    for event in events:
        assert_sendable(event)
    normal_ids = {str(i) for i in [*range(len(CASES)), *range(500, 510)]}
    normal_ids |= {str(named_id(i)) for i in [*range(len(NAMED_CASES)), *range(500, 510)]}
    assert normal_ids <= set(by_id)

    reasons = {(d["stream"], json.dumps(d["key"]["id"])): d["reason"] for d in dead}
    for stream, cases in (("orders", CASES), ("named", NAMED_CASES)):
        for index, case in enumerate(cases):
            record_id = hostile_id(stream, index)
            key = case.key if case.key is not None else record_id
            if case.reason is None:
                assert (stream, json.dumps(key)) not in reasons, case.name
                event = by_id[str(record_id)]
                custom = event.get("custom_data", {})
                for name, expected in (case.sent or {}).items():
                    actual = custom.get(name, event["user_data"].get(name))
                    assert actual == expected, case.name
            else:
                reason = reasons.get((stream, json.dumps(key)))
                assert reason is not None, f"{case.name}: not dead-lettered"
                assert reason.startswith(case.reason), (case.name, reason)
                assert str(record_id) not in by_id, case.name
    assert len(dead) == sum(c.reason is not None for c in CASES + NAMED_CASES)

    assert summary["streams"]["orders"]["dropped_values"] == DROPPED
    # The event whose em was left out still went: IP and user agent match.
    kept = by_id[str(hostile_id("orders", CASES.index(_case("email lone surrogate, IP"))))]
    assert "em" not in kept["user_data"]
    assert set(kept["user_data"]) == {"client_ip_address", "client_user_agent"}


def _case(prefix: str) -> Case:
    return next(c for c in CASES if c.name.startswith(prefix))


@pytest.mark.parametrize("validate_records", [True, False], ids=["validated", "not-validated"])
def test_hostile_values_are_dead_lettered_or_left_out_and_the_run_goes_on(
    tmp_path, validate_records
):
    lines, states = input_lines()
    with FakePinterest(token=TOKEN) as api:
        config = {
            "ad_account_id": ACCOUNT,
            "access_token": TOKEN,
            "api_url": api.url,
            "max_tries": 2,
            "validate_records": validate_records,
            "summary_path": str(tmp_path / "summary.json"),
            "streams": {"orders": MAPPING, "named": NAMED_MAPPING},
        }
        # The command's CPU time, which a loaded machine does not stretch as it does
        # the wall time.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = run_target(tmp_path, config, lines, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        assert api.errors == [], api.errors[:3]
        events = api.all_events()
        dead = read_jsonl(tmp_path / "dead-letter.jsonl")
        summary = json.loads((tmp_path / "summary.json").read_text())
        check_run(result, states, events, dead, summary)
        # Nothing is written out digit by digit: a 1e999999 costs no more than a normal value.
        assert elapsed < 60

        # The same input again (as after a failed run, from the same STATE): exit 0 again.
        rerun = run_target(tmp_path, config, lines, timeout=120)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert rerun.states[-1] == states[-1]
        assert len(read_jsonl(tmp_path / "dead-letter.jsonl")) == 2 * len(dead)


def test_hostile_values_in_a_dry_run(tmp_path):
    lines, states = input_lines()
    config = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        "summary_path": str(tmp_path / "summary.json"),
        "streams": {"orders": MAPPING, "named": NAMED_MAPPING},
    }
    for _ in range(2):  # a re-run of the same input ends the same way
        for leftover in ("dead-letter.jsonl", "dry-run.jsonl"):
            (tmp_path / leftover).unlink(missing_ok=True)
        result = run_target(tmp_path, config, lines, timeout=120)
        bodies = read_jsonl(tmp_path / "dry-run.jsonl")
        events = [e for body in bodies for e in body["data"]]
        dead = read_jsonl(tmp_path / "dead-letter.jsonl")
        summary = json.loads((tmp_path / "summary.json").read_text())
        check_run(result, states, events, dead, summary)


def test_dead_letter_lines_are_valid_json_and_hold_no_raw_surrogate(tmp_path):
    lines, _ = input_lines()
    config = {
        "ad_account_id": ACCOUNT,
        "dry_run": True,
        "streams": {"orders": MAPPING, "named": NAMED_MAPPING},
    }
    result = run_target(tmp_path, config, lines, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    raw = (tmp_path / "dead-letter.jsonl").read_bytes()
    raw.decode("utf-8")  # strict: no surrogate made it to the file
    for line in raw.splitlines():
        orjson.loads(line)
    assert b"x@example.com" not in raw  # the surrogate email is neither kept nor echoed


# The rules, precisely.


@pytest.mark.parametrize(
    ("number", "inside"),
    [
        (DOUBLE_MAX, True),
        (-DOUBLE_MAX, True),
        (DOUBLE_MAX.next_plus(), False),
        (Decimal("1.8e308"), False),
        (DOUBLE_MIN, True),
        (-DOUBLE_MIN, True),
        (DOUBLE_MIN.next_minus(), False),
        (Decimal("1e-324"), False),
        (Decimal("0E-999999"), True),
        (Decimal("-0"), True),
        (Decimal("1E+999999999"), False),
        (Decimal("12.34"), True),
    ],
)
def test_double_range_at_its_limits(number, inside):
    assert in_double_range(number) is inside


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (Decimal("1E+28"), "1" + "0" * 28),
        (Decimal("1.0"), "1"),
        (Decimal("-0.0"), "-0"),
        (Decimal("2.50"), "2.50"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal(f"1E+{MAX_NUMBER_DIGITS - 1}"), "1" + "0" * (MAX_NUMBER_DIGITS - 1)),
        (Decimal(f"1E+{MAX_NUMBER_DIGITS}"), None),
        (Decimal(f"1E-{MAX_NUMBER_DIGITS}"), "0." + "0" * (MAX_NUMBER_DIGITS - 1) + "1"),
        (Decimal(f"1E-{MAX_NUMBER_DIGITS + 1}"), None),
        (Decimal("1E+999999999999"), None),
    ],
)
def test_numbers_as_text_are_written_in_full_up_to_the_digit_limit(number, text):
    assert number_text(number) == text


def test_number_text_never_builds_a_huge_text():
    started = time.thread_time()  # CPU time: a loaded machine does not stretch it
    for exponent in ("+999999", "-999999", "+999999999999999999", "-999999999999999999"):
        assert number_text(Decimal(f"1E{exponent}")) is None
    assert time.thread_time() - started < 1


def test_json_safe_makes_what_orjson_refuses_writable():
    key = {
        "id": 2**64,
        "low": INT64_MIN - 1,
        "ok": INT64_MIN,
        "top": 2**64 - 1,
        "t": InvalidText("a\ud800"),
    }
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(key)
    safe = json_safe(key)
    assert orjson.loads(orjson.dumps(safe)) == {
        "id": str(2**64),
        "low": str(INT64_MIN - 1),
        "ok": INT64_MIN,
        "top": 2**64 - 1,
        "t": "a\\ud800",
    }


def test_only_strings_with_lone_surrogates_are_marked():
    message = json.loads(
        '{"a": "\\ud800", "b": ["ok", "\\udfffz", "\\ud83d\\ude00"], "c": {"d": "é"}}'
    )
    marked = mark_invalid_text(message)
    assert type(marked["a"]) is InvalidText
    assert [type(v) for v in marked["b"]] == [str, InvalidText, str]
    assert type(marked["c"]["d"]) is str


def _read(line: str | bytes) -> dict:
    return SafeMessageReader().deserialize_json(line if isinstance(line, bytes) else line.encode())


def test_the_reader_takes_what_pythons_json_takes():
    message = _read(
        '{"type": "RECORD", "record": {"a": NaN, "b": -Infinity, "c": "\\ud800", "d": 1.5}}'
    )
    record = message["record"]
    assert record["a"] != record["a"]  # NaN
    assert record["b"] == float("-inf")
    assert type(record["c"]) is InvalidText
    assert record["d"] == Decimal("1.5")
    big = _read('{"n": 1' + "0" * 5000 + "}")
    assert big["n"] == Decimal("1E+5000")
    assert _read('{"n": 1' + "0" * 4000 + "}")["n"] == 10**4000


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"type": "RECORD", "record": {', "input line 1: not valid JSON"),
        ('{"a": nan}', "input line 1: not valid JSON"),
        ('{"a": 1} x', "input line 1: not valid JSON"),
        (b'{"a": "\xff"}', "input line 1: not valid UTF-8"),
        ("[1, 2]", "input line 1: a Singer message must be an object"),
    ],
)
def test_the_reader_still_refuses_what_is_not_json(line, message):
    with pytest.raises(InputError, match=message):
        _read(line)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=20))
def test_any_escaped_string_decodes_to_text_or_marked_text(text):
    escaped = json.dumps({"s": text})  # ASCII, lone surrogates escaped as \udXXX
    value = _read(escaped)["s"]
    assert value == text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert type(value) is InvalidText
    else:
        assert type(value) is str
