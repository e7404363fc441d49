"""The request bodies and STATE lines the target writes stay byte for byte what they are.

A guard for refactors of the conversion engine. Each case runs the target in this process
as a user runs it in dry run (``dry_run: true`` writes each request's exact body, with its
ad account beside it, to ``dry_run_path``), and compares with what is stored in
``tests/data/request_bodies_unchanged.json``: the SHA-256 of the dry-run file's bytes, of
each request in it and of the STATE lines written to stdout (those lines are stored too,
they are short), the counts of events, requests, dead letters and STATE lines, and the
SHA-256 of the dead letters (each without its ``rejected_at``). One changed byte in any
body or STATE line fails the test.

Cases (``CASES``):

- ``benchmark``: the benchmark's input, ``benchmarks/generate.py`` with 2,000 tap-shopify
  3.13 orders and the tap's real ``orders`` SCHEMA, under the ``tap-shopify/orders`` preset
  as ``benchmarks/run.py`` configures it. Skipped when that schema cannot be had
  (``tests/shopify.py``).
- ``<preset>/untyped`` and ``<preset>/typed`` for every preset of ``mapping/presets.py``:
  400 records each, generated along the preset's own paths as
  ``tests/test_fast_path_equivalence.py``'s ``records`` generates them, from its tables of
  usual and junk values (``GOOD``, ``TEXTS``), so that some records are dead-lettered. The
  draws come from a seeded ``random.Random``, and only from its ``random()``, whose sequence
  Python keeps across versions (hypothesis's draws change between its releases, and it is
  not pinned). ``untyped``: a SCHEMA of the top-level fields without types, key property
  ``id``, default settings. ``typed``: a SCHEMA over the mapping's paths whose leaves admit
  every value (the checked fast path), no key properties, ``partner_name`` and
  ``default_phone_country`` set.

Determinism: ``time.time`` returns ``NOW`` while a case runs, and every time in the input is
relative to ``NOW`` (``benchmarks/generate.py`` reads ``datetime.now``, given ``NOW`` here;
``tests/test_fast_path_equivalence.py``'s times, relative to its import, are moved to
``NOW``). Requests go out one at a time (``max_parallel_requests: 1``): the bodies are
written in order, and the STATE lines the delivery gate lets out do not depend on the
threads' timing.

When it fails:

- "the generated input changed": a generator or its tables changed (``benchmarks/generate.py``,
  ``tests/shopify.py``, ``tests/test_fast_path_equivalence.py``, a preset, or what
  ``StreamMapping.record_paths()`` gives for one), so nothing is known about the target:
  check that with the old input the output is unchanged (below), then regenerate.
- a body, STATE line or count differs: the message names the first request, and the first
  event in it, that differ. To see the difference, write each case's input, bodies, STATE
  lines and dead letters under a folder with
  ``.venv/bin/python -m tests.test_request_bodies_unchanged DIR``, once in a worktree of the
  commit before the change (``git worktree add /tmp/before HEAD``) and once here, then
  ``diff -r`` the two folders (``jq`` helps: one line is a whole request).
- a deliberate change of the output: regenerate the stored file with
  ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest -p no:xdist tests/test_request_bodies_unchanged.py``
  (it rewrites the file, then fails on purpose so that a regeneration never passes as a
  test run) and review its diff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import random
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest

from benchmarks import generate
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.mapping.presets import PRESETS
from target_pinterest_conversions.mapping.spec import StreamMapping
from target_pinterest_conversions.target import TargetPinterestConversions
from tests import test_fast_path_equivalence as fastpath
from tests.shopify import orders_schema

# It runs the SDK's target end to end, in this process (as tests/test_sdk_contract.py does):
# a command-line test by tests/conftest.py's reckoning, of about 5 s.
pytestmark = pytest.mark.cli

EXPECTED = Path(__file__).parent / "data" / "request_bodies_unchanged.json"

NOW = 1_717_200_000
"""2024-06-01T00:00:00Z: the clock the target reads in every case. Far from any real
date the tests run on, so that a time left relative to the real clock cannot pass for one
relative to ``NOW``."""

BENCHMARK_ORDERS = 2_000
PRESET_RECORDS = 400
STATE_EVERY = 100
SEED = 20240601
AD_ACCOUNT = "549755885175"
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/python -m pytest -p no:xdist " + (
    "tests/test_request_bodies_unchanged.py"
)
COMPARE = ".venv/bin/python -m tests.test_request_bodies_unchanged DIR"


# --- the clock ---------------------------------------------------------------------------


class _FixedDatetime(dt.datetime):
    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _FixedDatetime:  # type: ignore[override]
        moment = cls.fromtimestamp(NOW, dt.timezone.utc)
        return moment if tz is not None else moment.replace(tzinfo=None)


def _now() -> float:
    return float(NOW)


@contextlib.contextmanager
def fixed_clock() -> Iterator[None]:
    """``time.time`` at ``NOW``, wherever the target reads it (``time.time()``)."""
    with mock.patch("time.time", new=_now):
        yield


# --- the inputs --------------------------------------------------------------------------


def _json(value: Any) -> str:
    """JSON as a tap written in Python sends it: Decimals as the exact numbers they hold."""
    if isinstance(value, Decimal):
        if value.is_nan():
            return "NaN"
        return str(value) if value.is_finite() else ("-Infinity" if value < 0 else "Infinity")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return json.dumps(value)


def benchmark_input() -> str:
    """``benchmarks/generate.py``'s orders, created over the 6 days before ``NOW``."""
    schema = orders_schema()
    if schema is None:
        pytest.skip("tap-shopify's orders schema is not available (../shared or PyPI)")
    clock = types.SimpleNamespace(
        datetime=_FixedDatetime, timezone=dt.timezone, timedelta=dt.timedelta
    )
    out = io.StringIO()
    with mock.patch.object(generate, "dt", clock), contextlib.redirect_stdout(out):
        generate.main(BENCHMARK_ORDERS)
    return out.getvalue()


_FIXED_RECENT = dt.datetime.fromtimestamp(
    NOW - (fastpath.NOW - int(fastpath.RECENT.timestamp())), dt.timezone.utc
)
_MOVED_TEXTS = {
    fastpath.RECENT.isoformat(): _FIXED_RECENT.isoformat(),
    fastpath.RECENT.isoformat().replace("+00:00", "Z"): (
        _FIXED_RECENT.isoformat().replace("+00:00", "Z")
    ),
}
_WEEK = 7 * 86400


def _at_fixed_clock(value: Any) -> Any:
    """Move a time of ``tests/test_fast_path_equivalence.py``'s tables (relative to its import)
    to NOW."""
    if isinstance(value, str):
        if value not in _MOVED_TEXTS and fastpath.RECENT.strftime("%Y-%m-%dT%H") in value:
            raise AssertionError(
                "tests/test_fast_path_equivalence.py's tables hold a time this test does not "
                f"move to NOW: {value!r}; add its form to _MOVED_TEXTS"
            )
        return _MOVED_TEXTS.get(value, value)
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value - fastpath.NOW) <= _WEEK:  # epoch seconds
            return value + (NOW - fastpath.NOW)
        if abs(value - fastpath.NOW * 1000) <= _WEEK * 1000:  # epoch milliseconds
            return value + (NOW - fastpath.NOW) * 1000
        return value
    if isinstance(value, list):
        return [_at_fixed_clock(v) for v in value]
    return value


class _Draws:
    """Draws from a seeded ``random.Random``, by its ``random()`` alone (stable sequence)."""

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)

    def below(self, n: int) -> int:
        return min(int(self._rng.random() * n), n - 1)

    def pick(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return options[self.below(len(options))]

    def junk(self) -> Any:
        """Any value, as ``tests/test_fast_path_equivalence.py``'s ``values`` draws one."""
        texts = fastpath.TEXTS
        kinds: list[Callable[[], Any]] = [
            lambda: self.pick(texts),
            lambda: None,
            lambda: self.pick([False, True]),
            lambda: self.below(11) - 5,
            lambda: self.pick([Decimal("12.30"), Decimal("0.5"), Decimal("1E+2"), Decimal("NaN")]),
            lambda: self.pick([12.3, 2.0, float("inf")]),
            lambda: fastpath.NOW - 60,
            lambda: [self.pick(texts) for _ in range(self.below(4))],
            lambda: {"nested": "x"},
        ]
        return self.pick(kinds)()

    def value(self, setting: str, junk: int) -> Any:
        """A usual value of the setting, or with a chance of one in ``junk`` any value."""
        field = setting.rsplit(".", 1)[-1]
        if junk and self.below(junk) == 0:
            return _at_fixed_clock(self.junk())
        return _at_fixed_clock(self.pick(fastpath.GOOD.get(field, fastpath.USUAL_TEXT)))


def _set(record: dict[str, Any], parts: list[str], setting: str, draws: _Draws, junk: int) -> None:
    """``tests/test_fast_path_equivalence.py``'s ``_set``, drawing from ``draws``."""
    head, rest = parts[0], parts[1:]
    if not rest:
        record[head] = draws.value(setting, junk)
    elif rest[0] == "[]":
        items = record.setdefault(head, [])
        if not isinstance(items, list):
            return
        if not items:
            items.extend({} for _ in range(draws.below(4)))
        for item in items:
            if isinstance(item, dict) and rest[1:]:
                _set(item, rest[1:], setting, draws, junk)
    else:
        child = record.setdefault(head, {})
        if isinstance(child, dict):
            _set(child, rest, setting, draws, junk)


def preset_record(n: int, mapping: StreamMapping, draws: _Draws) -> dict[str, Any]:
    """One record as ``tests/test_fast_path_equivalence.py``'s ``records`` makes them, its id
    unique."""
    record: dict[str, Any] = {"id": draws.pick([f"r{n}", n, Decimal(f"{n}.5")])}
    junk = draws.pick([0, 0, 20, 5])
    paths = sorted(set(mapping.record_paths()), key=lambda sp: sp[1])
    parents = {p.rsplit(".[]", 1)[0] for _, p in paths if ".[]" in p}
    for setting, path in paths:
        if path in parents and draws.below(6):
            continue  # usually an array of items, filled by its item paths
        if not junk or draws.below(6):
            _set(record, path.split("."), setting, draws, junk)
    return record


def typed_schema(mapping: StreamMapping) -> dict[str, Any]:
    """A SCHEMA of types over the mapping's paths, its leaves admitting every value."""
    tree: dict[str, Any] = {}
    for _, path in mapping.record_paths():
        node = tree
        for segment in path.split("."):
            node = node.setdefault(segment, {})

    def build(sub: dict[str, Any]) -> dict[str, Any]:
        if not sub:
            return dict(fastpath.LOOSE_LEAF_SCHEMAS[-1])
        node: dict[str, Any] = {}
        names = {k: v for k, v in sub.items() if k != "[]"}
        if "[]" in sub:
            node["type"] = ["array", "null"]
            node["items"] = build(sub["[]"])
        if names:
            node["type"] = ["array", "object", "null"] if "[]" in sub else ["object", "null"]
            node["properties"] = {k: build(v) for k, v in names.items()}
        return node

    return {"type": "object", "properties": {k: build(v) for k, v in tree.items()}}


def untyped_schema(mapping: StreamMapping) -> dict[str, Any]:
    """A SCHEMA naming the mapping's top-level fields, without types: nothing is checked."""
    names = sorted({path.split(".")[0] for _, path in mapping.record_paths()})
    return {"type": "object", "properties": {name: {} for name in names}}


def preset_input(preset: str, stream: str, *, typed: bool) -> str:
    """SCHEMA, ``PRESET_RECORDS`` generated records and a STATE every ``STATE_EVERY``."""
    mapping = parse_stream_mapping(stream, {"preset": preset})
    draws = _Draws(f"{SEED}:{preset}:{'typed' if typed else 'untyped'}")
    schema = typed_schema(mapping) if typed else untyped_schema(mapping)
    keys = [] if typed else ["id"]
    lines = [_json({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys})]
    for n in range(PRESET_RECORDS):
        record = preset_record(n, mapping, draws)
        lines.append(_json({"type": "RECORD", "stream": stream, "record": record}))
        if (n + 1) % STATE_EVERY == 0:
            state = {"bookmarks": {stream: {"n": n + 1, "at": Decimal(f"{n + 1}.10")}}}
            lines.append(_json({"type": "STATE", "value": state}))
    return "".join(line + "\n" for line in lines)


# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    make_input: Callable[[], str]
    config: dict[str, Any]


def _stream(preset: str) -> str:
    return preset.split("/")[-1].replace("-", "_")


def _cases() -> list[Case]:
    benchmark = {"streams": {"orders": {"preset": "tap-shopify/orders"}}}  # as benchmarks/run.py
    cases = [Case("benchmark", benchmark_input, benchmark)]
    for preset in PRESETS:
        stream = _stream(preset)
        streams = {stream: {"preset": preset}}
        cases.append(
            Case(
                f"{preset}/untyped",
                lambda p=preset, s=stream: preset_input(p, s, typed=False),
                {"streams": streams, "max_rejected_ratio": 1},
            )
        )
        cases.append(
            Case(
                f"{preset}/typed",
                lambda p=preset, s=stream: preset_input(p, s, typed=True),
                {
                    "streams": streams,
                    "max_rejected_ratio": 1,
                    "partner_name": "acme",
                    "default_phone_country": "GB",
                },
            )
        )
    return cases


CASES = _cases()


# --- a run -------------------------------------------------------------------------------


@dataclass
class Output:
    input: bytes
    bodies: bytes
    state: bytes
    dead_letters: list[dict[str, Any]]


def run_case(case: Case, folder: Path) -> Output:
    """Run the target in dry run on the case's input, with the clock at ``NOW``."""
    data = case.make_input().encode("utf-8")
    config = {
        "ad_account_id": AD_ACCOUNT,
        "dry_run": True,
        "dry_run_path": str(folder / "dry-run.jsonl"),
        "dead_letter_path": str(folder / "dead-letter.jsonl"),
        "max_parallel_requests": 1,
        **case.config,
    }
    stdout = io.StringIO()
    with fixed_clock(), contextlib.redirect_stdout(stdout):
        target = TargetPinterestConversions(config=config)
        target.listen(io.BytesIO(data))
    dead = folder / "dead-letter.jsonl"
    dead_letters = [
        {k: v for k, v in json.loads(line).items() if k != "rejected_at"}
        for line in (dead.read_text(encoding="utf-8").splitlines() if dead.exists() else [])
    ]
    bodies = folder / "dry-run.jsonl"
    return Output(
        input=data,
        bodies=bodies.read_bytes() if bodies.exists() else b"",
        state=stdout.getvalue().encode("utf-8"),
        dead_letters=dead_letters,
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def summarize(output: Output) -> dict[str, Any]:
    """What is stored of a case's run: digests, counts and the STATE lines."""
    requests = output.bodies.splitlines(keepends=True)
    events = [orjson.loads(line)["data"] for line in requests]
    dead = "".join(json.dumps(d, sort_keys=True) + "\n" for d in output.dead_letters)
    return {
        "input_sha256": _sha(output.input),
        "records": sum(json.loads(line)["type"] == "RECORD" for line in output.input.splitlines()),
        "requests": len(requests),
        "events": sum(len(e) for e in events),
        "dead_letters": len(output.dead_letters),
        "bodies_sha256": _sha(output.bodies),
        "state_sha256": _sha(output.state),
        "dead_letters_sha256": _sha(dead.encode("utf-8")),
        "state_lines": output.state.decode("utf-8").splitlines(),
        "request_sha256": [_sha(line) for line in requests],
        # Per request, the first 8 hex digits of each event's SHA-256 (as orjson writes the
        # event alone), only to name the first event that differs: the check is above.
        "event_sha256_8": [" ".join(_sha(orjson.dumps(e))[:8] for e in data) for data in events],
    }


def load_expected() -> dict[str, Any]:
    if not EXPECTED.exists():
        return {}
    return json.loads(EXPECTED.read_text(encoding="utf-8"))["cases"]


def _difference(name: str, got: dict[str, Any], want: dict[str, Any], output: Output) -> str:
    """Say where a case's output first differs from the stored one, and what to do."""
    how = (
        f"To see the difference, run `{COMPARE}` in a worktree of the commit before the "
        f"change and here, then diff the folders; if the change is deliberate, regenerate "
        f"with `{REGENERATE}` and review the diff."
    )
    if got["input_sha256"] != want["input_sha256"]:
        return (
            f"{name}: the generated input changed (a generator or its tables changed: "
            "benchmarks/generate.py, tests/shopify.py, tests/test_fast_path_equivalence.py, "
            "a preset or StreamMapping.record_paths()), so this says nothing about the target. "
            f"{how}"
        )
    lines = []
    for key in ("records", "requests", "events", "dead_letters"):
        if got[key] != want[key]:
            lines.append(f"{key}: {got[key]} now, {want[key]} before")
    if got["state_lines"] != want["state_lines"]:
        lines.append(f"STATE lines now: {got['state_lines']}\n  before: {want['state_lines']}")
    requests = output.bodies.splitlines()
    for i, (now_sha, was_sha) in enumerate(
        zip(got["request_sha256"], want["request_sha256"], strict=False)
    ):
        if now_sha == was_sha:
            continue
        where = f"request {i + 1} of {len(requests)}"
        pairs = zip(
            got["event_sha256_8"][i].split(), want["event_sha256_8"][i].split(), strict=False
        )
        j = next((j for j, (a, b) in enumerate(pairs) if a != b), None)
        if j is None:
            lines.append(f"{where} differs outside its events (or in their number)")
        else:
            event = orjson.loads(requests[i])["data"][j]
            lines.append(
                f"{where}: its event {j + 1} is the first that differs; it is now:\n"
                f"  {orjson.dumps(event).decode()[:3000]}"
            )
        break
    if not lines and got["bodies_sha256"] != want["bodies_sha256"]:
        lines.append("the dry-run file differs (its request digests were not stored?)")
    if got["dead_letters_sha256"] != want["dead_letters_sha256"]:
        lines.append("the dead letters (without rejected_at) differ")
    return f"{name}: the output is not what it was.\n" + "\n".join(lines) + f"\n{how}"


# --- the test ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_request_bodies_and_state_are_unchanged(case: Case, tmp_path: Path) -> None:
    output = run_case(case, tmp_path)
    got = summarize(output)
    assert got["events"] > 0, f"{case.name}: no event was written at all"
    if os.environ.get("UPDATE_GOLDEN"):
        if "PYTEST_XDIST_WORKER" in os.environ:
            pytest.fail("UPDATE_GOLDEN rewrites one file: run it with -p no:xdist")
        _update(case.name, got)
        pytest.fail(
            f"{case.name}: {EXPECTED.name} rewritten (UPDATE_GOLDEN); review the diff, then "
            "run again without UPDATE_GOLDEN"
        )
    want = load_expected().get(case.name)
    assert want is not None, f"{case.name}: nothing stored for it; run `{REGENERATE}`"
    if got != want:
        pytest.fail(_difference(case.name, got, want, output))


def _update(name: str, summary: dict[str, Any]) -> None:
    cases = load_expected()
    cases[name] = summary
    cases = {case.name: cases[case.name] for case in CASES if case.name in cases}
    text = json.dumps({"now": NOW, "cases": cases}, indent=1, ensure_ascii=False)
    EXPECTED.write_text(text + "\n", encoding="utf-8")


# --- python -m tests.test_request_bodies_unchanged DIR -----------------------------------


def dump(root: Path) -> None:
    """Write each case's input, bodies, STATE lines and dead letters under ``root``."""
    for case in CASES:
        folder = root / case.name.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        try:
            output = run_case(case, folder)
        except pytest.skip.Exception as exc:
            print(f"{case.name}: skipped: {exc}", file=sys.stderr)
            continue
        (folder / "input.singer").write_bytes(output.input)
        (folder / "state.jsonl").write_bytes(output.state)
        (folder / "dead-letter.jsonl").write_text(
            "".join(json.dumps(d, sort_keys=True) + "\n" for d in output.dead_letters)
        )
        print(f"{folder}: {summarize(output)['events']} events", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {COMPARE}")
    dump(Path(sys.argv[1]))
