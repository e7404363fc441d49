"""BATCH messages through the CLI: their records take the RECORD path, bad files stop the run.

Each record of a BATCH file must give exactly what the same record sent in a RECORD
message gives (the request bodies byte for byte, the STATE), and a bad file must stop
the run with exit code 5, naming the file and the line, with no STATE past what was
delivered.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cli import command, run_target, write_config
from tests.fake_pinterest import FakePinterest, Scripted

ACCOUNT = "549755885175"
TOKEN = "batch-test-token"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["null", "string"]},
        "updated_at": {"type": "string", "format": "date-time"},
        "total": {"type": ["null", "number"]},
        "currency": {"type": ["null", "string"]},
        "items": {
            "type": ["null", "array"],
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "price": {"type": "number"},
                    "qty": {"type": "integer"},
                },
            },
        },
    },
}
MAPPING = {
    "event_name": "checkout",
    "action_source": "offline",
    "event_time": "updated_at",
    "event_id": "id",
    "user_data": {"em": "email"},
    "custom_data": {"value": "total", "currency": "currency", "order_id": "id"},
    "contents": {"from": "items", "id": "sku", "item_price": "price", "quantity": "qty"},
}
SECRET = "private-person@example.com"


def records(count: int, start: int = 1) -> list[dict[str, Any]]:
    """Orders with times, and totals more precise than a float: exact only as Decimal."""
    return [
        {
            "id": i,
            "email": f"buyer{i}@example.com",
            "updated_at": (NOW - dt.timedelta(minutes=90, seconds=i)).isoformat(),
            "total": f"9007199254740993.{i % 10}5",
            "currency": "USD",
            "items": [{"sku": f"SKU-{i}", "price": "9.950", "qty": 2}],
        }
        for i in range(start, start + count)
    ]


def raw_json(record: dict[str, Any]) -> str:
    """The record as a tap writes it: the fractions as JSON numbers, written exactly."""
    text = json.dumps(record)
    text = text.replace(f'"total": "{record["total"]}"', f'"total": {record["total"]}')
    return text.replace('"price": "9.950"', '"price": 9.950')


def schema_line(stream: str = "orders") -> str:
    message = {"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["id"]}
    return json.dumps(message)


def record_lines(recs: list[dict[str, Any]], stream: str = "orders") -> list[str]:
    return [f'{{"type": "RECORD", "stream": "{stream}", "record": {raw_json(r)}}}' for r in recs]


def write_file(path: Path, lines: list[str] | bytes, *, gzipped: bool = True) -> Path:
    data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


def batch_line(
    files: list[str], stream: str = "orders", fmt: str = "jsonl", compression: str = "gzip"
) -> str:
    return json.dumps(
        {
            "type": "BATCH",
            "stream": stream,
            "encoding": {"format": fmt, "compression": compression},
            "manifest": files,
        }
    )


def state(n: int) -> str:
    return json.dumps({"type": "STATE", "value": {"bookmarks": {"orders": {"n": n}}}})


def config(**extra: object) -> dict[str, Any]:
    return {"ad_account_id": ACCOUNT, "dry_run": True, "streams": {"orders": MAPPING}, **extra}


def dry_run_events(folder: Path) -> list[dict[str, Any]]:
    path = folder / "dry-run.jsonl"
    if not path.exists():
        return []
    return [e for line in path.read_text().splitlines() for e in json.loads(line)["data"]]


def test_about_declares_the_batch_capability():
    about = subprocess.run(
        [*command(), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    assert "batch" in json.loads(about.stdout)["capabilities"]


def test_batch_records_give_the_request_bodies_and_state_of_record_messages(tmp_path):
    recs = records(2500)  # three requests of at most 1000 events, across two files
    as_records = tmp_path / "records"
    as_batch = tmp_path / "batch"
    as_records.mkdir()
    as_batch.mkdir()
    lines = record_lines(recs)
    one = write_file(as_batch / "part-1.json.gz", [raw_json(r) for r in recs[:1200]])
    two = write_file(as_batch / "part-2.jsonl", [raw_json(r) for r in recs[1200:]], gzipped=False)
    by_record = run_target(as_records, config(), [schema_line(), state(0), *lines, state(1)])
    by_batch = run_target(
        as_batch,
        config(),
        [
            schema_line(),
            state(0),
            batch_line([one.as_uri()]),
            batch_line([str(two)], compression="none"),
            state(1),
        ],
    )
    assert by_record.returncode == 0, by_record.stderr[-3000:]
    assert by_batch.returncode == 0, by_batch.stderr[-3000:]
    bodies = (as_batch / "dry-run.jsonl").read_bytes()
    assert bodies == (as_records / "dry-run.jsonl").read_bytes()
    assert len(bodies.splitlines()) == 3
    events = dry_run_events(as_batch)
    assert len(events) == 2500
    # Decimals, as RECORD messages give them: a float would round the total.
    assert events[0]["custom_data"]["value"] == "9007199254740993.15"
    assert (
        by_batch.states
        == by_record.states
        == [{"bookmarks": {"orders": {"n": 0}}}, {"bookmarks": {"orders": {"n": 1}}}]
    )


def test_batch_records_take_stream_maps_and_the_mapping_checks(tmp_path):
    recs = records(4)
    recs[1]["email"] = None  # no match key: dead-lettered, as a RECORD message would be
    path = write_file(tmp_path / "b.json.gz", [raw_json(r) for r in recs])
    result = run_target(
        tmp_path,
        config(stream_maps={"raw": {"__alias__": "orders", "__filter__": "record['id'] != 4"}}),
        [schema_line("raw"), batch_line([path.as_uri()], stream="raw")],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [e["event_id"] for e in dry_run_events(tmp_path)] == ["1", "3"]
    dead = [json.loads(x) for x in (tmp_path / "dead-letter.jsonl").read_text().splitlines()]
    assert [d["key"] for d in dead] == [{"id": 2}]
    assert "no match key" in dead[0]["reason"]


GOOD = [raw_json(r) for r in records(2)]
MANY = gzip.compress(("\n".join(raw_json(r) for r in records(1500)) + "\n").encode())
TRUNCATED = MANY[: len(MANY) // 2]
DAMAGED = MANY[:-8] + bytes(b ^ 0x5A for b in MANY[-8:])  # its checksum and size


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.json.gz", None, r"missing.json.gz: no such file"),
        (
            "truncated.json.gz",
            TRUNCATED,
            r"truncated.json.gz line \d{3,4}: corrupt gzip data: the file ends before",
        ),
        (
            "damaged.json.gz",
            DAMAGED,
            r"damaged.json.gz line 1501: corrupt gzip data \(not a gzip file, or a damaged",
        ),
        ("plain.json.gz", b'{"id": 1}\n', r"plain.json.gz line 1: corrupt gzip data"),
        (
            "badjson.json.gz",
            [*GOOD, '{"id": 3, "email": "' + SECRET + '", ', GOOD[0]],
            r"badjson.json.gz line 3: not valid JSON",
        ),
        (
            "array.json.gz",
            [GOOD[0], '["' + SECRET + '"]'],
            r"array.json.gz line 2: a record must be a JSON object, not an array",
        ),
        (
            "latin1.json.gz",
            GOOD[0].encode() + b'\n{"id": 2, "email": "' + SECRET.encode() + b'\xe9"}\n',
            r"latin1.json.gz line 2: not valid UTF-8",
        ),
        ("folder.json.gz", "folder", r"folder.json.gz: it is a folder, not a file"),
    ],
)
def test_a_bad_file_stops_the_run_naming_the_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    if name.startswith("latin1"):
        write_file(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "folder":
        path.mkdir()
    elif content is not None:
        write_file(path, content)
    result = run_target(
        tmp_path, config(), [schema_line(), state(0), batch_line([path.as_uri()]), state(1)]
    )
    assert result.returncode == 5, result.stderr[-3000:]
    folder = re.escape(path.as_uri().rsplit("/", 1)[0])
    assert re.search(f"input line 3: BATCH file {folder}/{message}", result.stderr), result.stderr
    assert SECRET not in result.stderr
    assert "Traceback" not in result.stderr
    # STATE never passes the bad file: only the one from before it.
    assert result.states == [{"bookmarks": {"orders": {"n": 0}}}]


def test_parquet_and_unknown_compressions_are_refused(tmp_path):
    path = write_file(tmp_path / "b.json.gz", GOOD)
    result = run_target(
        tmp_path, config(), [schema_line(), batch_line([path.as_uri()], fmt="parquet")]
    )
    assert result.returncode == 5
    assert (
        "input line 2: BATCH message of stream 'orders': encoding format 'parquet' is not "
        "supported; only jsonl files" in result.stderr
    )
    (tmp_path / "zstd").mkdir()
    result = run_target(
        tmp_path / "zstd", config(), [schema_line(), batch_line([str(path)], compression="zstd")]
    )
    assert result.returncode == 5
    assert "compression 'zstd' is not supported; only gzip or none are" in result.stderr
    assert dry_run_events(tmp_path) == []


def test_a_batch_before_its_schema_and_a_missing_key_property_stop_the_run(tmp_path):
    path = write_file(tmp_path / "b.json.gz", [GOOD[0], json.dumps({"email": "x@example.com"})])
    result = run_target(tmp_path, config(), [batch_line([str(path)]), schema_line()])
    assert result.returncode == 5
    assert "input line 1: BATCH message of stream 'orders': it came before the stream's SCHEMA" in (
        result.stderr
    )
    (tmp_path / "key").mkdir()
    result = run_target(tmp_path / "key", config(), [schema_line(), batch_line([str(path)])])
    assert result.returncode == 5
    missing = f"input line 2: BATCH file {path} line 2: Record is missing one or more key_prop"
    assert missing in result.stderr


def live(api: FakePinterest) -> dict[str, Any]:
    return config(dry_run=False, access_token=TOKEN, api_url=api.url, max_tries=1)


def test_a_state_after_a_batch_waits_for_its_records_to_be_delivered(tmp_path):
    path = write_file(tmp_path / "b.json.gz", [raw_json(r) for r in records(5)])
    lines = [schema_line(), state(0), batch_line([path.as_uri()]), state(1)]
    with FakePinterest(token=TOKEN) as api:
        delivered = run_target(tmp_path, live(api), lines)
        assert delivered.returncode == 0, delivered.stderr[-3000:]
        assert sorted(api.accepted_ids()) == ["1", "2", "3", "4", "5"]
        assert delivered.states[-1] == {"bookmarks": {"orders": {"n": 1}}}
        # The same input, its batch refused: the STATE after the BATCH is never written.
        (tmp_path / "refused").mkdir()
        api.script.append(Scripted(status=400, body={"code": 1, "message": "bad request"}))
        refused = run_target(tmp_path / "refused", live(api), lines)
    assert refused.returncode == 4, refused.stderr[-3000:]
    assert refused.states == [{"bookmarks": {"orders": {"n": 0}}}]


def test_a_line_longer_than_batch_max_line_bytes_stops_the_run_naming_file_and_line(tmp_path):
    long_line = json.dumps({"id": 3, "email": SECRET, "pad": "x" * 2000})
    path = write_file(tmp_path / "long.json.gz", [*GOOD, long_line, GOOD[0]])
    result = run_target(
        tmp_path,
        config(batch_max_line_bytes=1024),
        [schema_line(), state(0), batch_line([path.as_uri()]), state(1)],
    )
    assert result.returncode == 5, result.stderr[-3000:]
    assert (
        f"input line 3: BATCH file {path.as_uri()} line 3: the line is longer than "
        "batch_max_line_bytes (1024 bytes)" in result.stderr
    ), result.stderr[-3000:]
    assert SECRET not in result.stderr
    assert "Traceback" not in result.stderr
    assert result.states == [{"bookmarks": {"orders": {"n": 0}}}]


def test_batch_max_line_bytes_out_of_range_is_a_config_error(tmp_path):
    result = run_target(tmp_path, config(batch_max_line_bytes=10), [schema_line()])
    assert result.returncode == 2, result.stderr[-3000:]
    assert "batch_max_line_bytes: must be from 1024 to 1073741824 bytes" in result.stderr


# Runs the command given as arguments and writes its peak resident memory (KiB on Linux)
# to the file named by RSS_FILE; its only child is the target, so the peak is the target's.
# Its address space is capped too: a regression then fails fast instead of taking gigabytes.
PEAK_RSS = """
import os, resource, subprocess, sys
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
code = subprocess.run(sys.argv[1:], preexec_fn=cap).returncode
with open(os.environ["RSS_FILE"], "w") as file:
    file.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB and RLIMIT_AS: Linux")
def test_a_gzip_bomb_stops_at_the_default_bound_without_being_read_whole(tmp_path):
    # One 1 GiB line in 1 MB of gzip: 1024 gzip members of 1 MiB each, read as one stream.
    member = gzip.compress(b"x" * (1 << 20))
    bomb = tmp_path / "bomb.json.gz"
    with bomb.open("wb") as file:
        file.write(gzip.compress(b'{"id": 1, "email": "' + SECRET.encode() + b'", "pad": "'))
        for _ in range(1024):
            file.write(member)
        file.write(gzip.compress(b'"}\n'))
    assert bomb.stat().st_size < 2 << 20
    lines = [schema_line(), state(0), batch_line([str(bomb)]), state(1)]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            PEAK_RSS,
            *command(),
            "--config",
            str(write_config(tmp_path, config())),
        ],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RSS_FILE": str(tmp_path / "rss")},
        check=False,
    )
    assert proc.returncode == 5, proc.stderr[-3000:]
    assert (
        f"input line 3: BATCH file {bomb} line 1: the line is longer than "
        "batch_max_line_bytes (67108864 bytes)" in proc.stderr
    ), proc.stderr[-3000:]
    assert SECRET not in proc.stderr
    # Read up to the bound (64 MiB) and no further: far below the 1 GiB line.
    peak_mib = int((tmp_path / "rss").read_text()) / 1024
    assert peak_mib < 256, f"peak RSS {peak_mib:.0f} MiB"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Records every request, whatever its method (http.server answers 501 to each)."""

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.server.requests.append(self.requestline)  # type: ignore[attr-defined]
        return parsed

    def log_message(self, *args: object) -> None:
        pass


def test_a_batch_file_on_a_web_server_is_refused_before_any_request(tmp_path):
    # webhdfs:// speaks HTTP with requests alone: a manifest could make the target call
    # any host it can reach (SSRF).
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_port}"
    try:
        result = run_target(
            tmp_path,
            config(),
            [schema_line(), state(0), batch_line([f"webhdfs://{host}/b.json.gz"]), state(1)],
        )
    finally:
        server.shutdown()
        server.server_close()
    assert server.requests == []  # type: ignore[attr-defined]
    assert result.returncode == 5, result.stderr[-3000:]
    assert (
        f"input line 3: BATCH file webhdfs://{host}/b.json.gz: the URL scheme 'webhdfs' is "
        "not allowed; allowed: a local path, file" in result.stderr
    ), result.stderr[-3000:]
    assert result.states == [{"bookmarks": {"orders": {"n": 0}}}]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://user:hunter2@127.0.0.1:9/b.json.gz?token=t0k3n",
            "BATCH file ftp://127.0.0.1:9/b.json.gz: the URL scheme 'ftp' is not allowed; "
            "allowed: a local path, file",
        ),
        (
            "http://user:hunter2@127.0.0.1:9/b.json.gz?token=t0k3n",
            "BATCH file http://127.0.0.1:9/b.json.gz: the URL scheme 'http' is not allowed",
        ),
        ("memory://b.json.gz", "BATCH file memory://b.json.gz: the URL scheme 'memory' is not"),
        (
            "simplecache::file:///etc/hostname",
            "BATCH file simplecache::file:///etc/hostname: the URL scheme 'simplecache' is not",
        ),
        (
            "zip://b.json.gz::file:///tmp/a.zip",
            "BATCH file zip://b.json.gz::file:///tmp/a.zip: the URL scheme 'zip' is not allowed",
        ),
        (
            "file://hunter2@otherhost/share/b.json.gz",
            "BATCH file file://otherhost/share/b.json.gz: a file:// URL must name a file on "
            "this machine (file:///path)",
        ),
    ],
)
def test_batch_files_are_read_only_from_allowed_storage(tmp_path, url, message):
    result = run_target(tmp_path, config(), [schema_line(), batch_line([url])])
    assert result.returncode == 5, result.stderr[-3000:]
    assert f"input line 2: {message}" in result.stderr, result.stderr[-3000:]
    assert "hunter2" not in result.stderr
    assert "t0k3n" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_object_storage_without_its_package_is_refused_naming_the_package(tmp_path):
    url = "s3://key:secret@bucket/b.json.gz?X-Amz-Signature=sig"
    result = run_target(tmp_path, config(), [schema_line(), batch_line([url])])
    assert result.returncode == 5, result.stderr[-3000:]
    assert (
        "input line 2: BATCH file s3://bucket/b.json.gz: the URL scheme 's3' is not allowed "
        "until its package s3fs is installed" in result.stderr
    ), result.stderr[-3000:]
    assert "secret" not in result.stderr
    assert "sig" not in result.stderr


def test_the_targets_storage_root_is_held_to_the_allowed_schemes(tmp_path):
    result = run_target(
        tmp_path,
        config(batch_config={"storage": {"root": "ftp://127.0.0.1:9/batches"}}),
        [schema_line(), batch_line([str(tmp_path / "b.json.gz")])],
    )
    assert result.returncode == 5, result.stderr[-3000:]
    assert (
        "input line 2: BATCH file ftp://127.0.0.1:9/batches/b.json.gz: the URL scheme 'ftp' "
        "is not allowed" in result.stderr
    ), result.stderr[-3000:]


def test_a_file_name_that_no_file_can_have_is_one_line_and_exit_5(tmp_path):
    result = run_target(tmp_path, config(), [schema_line(), batch_line([f"{tmp_path}/a\0.gz"])])
    assert result.returncode == 5, result.stderr[-3000:]
    assert f"input line 2: BATCH file {tmp_path}/a\\x00.gz: not a valid file name" in (
        result.stderr
    ), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
