"""Reading BATCH files (batch_files.py): streamed, any fsspec storage, safe file names."""

from __future__ import annotations

import gzip
import io
import json
import re
from decimal import Decimal

import fsspec
import pytest

from target_pinterest_conversions import batch_files
from target_pinterest_conversions.batch_files import (
    BatchFileError,
    batch_compression,
    file_label,
    iter_batch_records,
)


def test_records_are_read_one_line_at_a_time(tmp_path, monkeypatch):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"id": i, "pad": "x" * 500}) + "\n" for i in range(20_000)))
    opened: list[io.BufferedReader] = []
    real_open = batch_files.Path.open

    def spy(self, *args, **kwargs):
        file = real_open(self, *args, **kwargs)
        opened.append(file)
        return file

    monkeypatch.setattr(batch_files.Path, "open", spy)
    records = iter_batch_records(str(path), "none")
    assert next(records) == (1, {"id": 0, "pad": "x" * 500})
    # Only the first read buffer is in memory, not the 10 MB file.
    assert opened[0].tell() <= batch_files.READ_BUFFER_BYTES < path.stat().st_size
    assert sum(1 for _ in records) == 19_999


def test_numbers_are_decoded_as_in_record_messages(tmp_path):
    path = tmp_path / "b.json.gz"
    path.write_bytes(gzip.compress(b'{"v": 19.90, "n": 3, "t": "2026-01-01T00:00:00Z"}\n\n'))
    assert list(iter_batch_records(path.as_uri(), "gzip")) == [
        (1, {"v": Decimal("19.90"), "n": 3, "t": "2026-01-01T00:00:00Z"})
    ]


def test_an_uncompressed_declaration_still_reads_gzip(tmp_path):
    # The SDK's taps gzip their files whatever batch_config's compression says.
    path = tmp_path / "b.json.gz"
    path.write_bytes(gzip.compress(b'{"id": 1}\n'))
    assert list(iter_batch_records(str(path), "none")) == [(1, {"id": 1})]


def test_other_storage_is_read_through_fsspec(monkeypatch):
    # As s3:// is with s3fs installed: memory:// stands for an allowed object store.
    monkeypatch.setitem(batch_files.STORAGE_PACKAGES, "memory", "fsspec")
    with fsspec.open("memory://batches/b.json.gz", "wb") as file:
        file.write(gzip.compress(b'{"id": 1}\n{"id": 2}\n'))
    records = list(iter_batch_records("memory://batches/b.json.gz", "gzip"))
    assert records == [(1, {"id": 1}), (2, {"id": 2})]


def test_the_targets_storage_root_finds_files_by_name(tmp_path):
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(b'{"id": 7}\n'))
    records = iter_batch_records("s3://elsewhere/x/b.json.gz", "gzip", tmp_path.as_uri())
    assert list(records) == [(1, {"id": 7})]


def test_an_unknown_storage_is_named_without_credentials():
    with pytest.raises(BatchFileError) as error:
        list(iter_batch_records("nosuchfs://user:pw@host/b.json.gz?sig=abc", "gzip"))
    assert str(error.value).startswith("BATCH file nosuchfs://host/b.json.gz: ")
    assert "pw" not in str(error.value)
    assert "sig" not in str(error.value)


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("/data/a.json.gz", "/data/a.json.gz"),
        ("file:///data/a.json.gz", "file:///data/a.json.gz"),
        ("s3://key:secret@bucket/a.json.gz?X-Amz-Signature=1#f", "s3://bucket/a.json.gz"),
        ("https://host:8443/a.json.gz?token=t", "https://host:8443/a.json.gz"),
    ],
)
def test_file_labels_keep_no_credentials(url, label):
    assert file_label(url) == label


@pytest.mark.parametrize(
    ("encoding", "result"),
    [
        ({"format": "jsonl", "compression": "gzip"}, "gzip"),
        ({"format": "jsonl", "compression": "none"}, "none"),
        ({"format": "jsonl"}, "none"),
        ({"format": "parquet", "compression": "gzip"}, "encoding format 'parquet'"),
        ({"format": "jsonl", "compression": "bz2"}, "compression 'bz2'"),
        ("jsonl", "must be an object"),
    ],
)
def test_only_jsonl_gzip_or_uncompressed_is_accepted(encoding, result):
    if result in ("gzip", "none"):
        assert batch_compression(encoding) == result
        return
    with pytest.raises(BatchFileError, match=result):
        batch_compression(encoding)


@pytest.mark.parametrize("gzipped", [False, True])
def test_lines_up_to_the_bound_are_read_and_a_longer_one_is_refused(tmp_path, gzipped):
    at_bound = b'{"p": "' + b"x" * 1000 + b'"}'
    lines = [b'{"id": 1}', at_bound + b"\r", b"", at_bound, at_bound + b" ", b'{"id": 2}']
    data = b"\n".join(lines)  # the last line without a newline
    path = tmp_path / "b.jsonl"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    records = iter_batch_records(str(path), "none", max_line_bytes=len(at_bound) + 1)
    assert [number for number, _ in records] == [1, 2, 4, 5, 6]
    records = iter_batch_records(str(path), "none", max_line_bytes=len(at_bound))
    with pytest.raises(BatchFileError, match=r"b.jsonl line 2: the line is longer than "):
        list(records)


def test_a_long_line_across_read_chunks_is_whole_or_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_files, "READ_BUFFER_BYTES", 7)
    data = b'{"id": 1}\n{"id": 22, "pad": "abcdefghij"}\n\n{"id": 3}\n'
    path = tmp_path / "b.jsonl"
    path.write_bytes(data)
    assert list(iter_batch_records(str(path), "none", max_line_bytes=31)) == [
        (1, {"id": 1}),
        (2, {"id": 22, "pad": "abcdefghij"}),
        (4, {"id": 3}),
    ]
    with pytest.raises(BatchFileError, match=r"line 2: the line is longer than .* \(30 bytes\)"):
        list(iter_batch_records(str(path), "none", max_line_bytes=30))


def test_a_line_past_the_bound_is_never_held_whole(tmp_path):
    # 8 MiB of one line, bound 1 MiB: reading stops after about the bound.
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"pad": "' + b"x" * (8 << 20))
    with path.open("rb") as file:
        lines = batch_files._bounded_lines(file.read, 1 << 20)
        assert next(lines) is None
        assert file.tell() <= (1 << 20) + batch_files.READ_BUFFER_BYTES


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "ftp://host/b.json.gz",
            "the URL scheme 'ftp' is not allowed; allowed: a local path, file",
        ),
        ("s3://bucket/b.json.gz::ftp://host/x", "chained URLs (::) are not allowed"),
        ("file://host/b.json.gz", "a file:// URL must name a file on this machine"),
    ],
)
def test_only_local_files_and_installed_object_stores_are_opened(monkeypatch, url, problem):
    monkeypatch.setattr(batch_files, "_installed", lambda package: package == "s3fs")
    assert batch_files.allowed_schemes() == ["file", "s3"]
    with pytest.raises(BatchFileError, match=re.escape(problem)):
        list(iter_batch_records(url, "gzip"))


def test_file_labels_escape_control_characters_and_are_cut():
    assert file_label("/data/a\nb\x00.gz") == "/data/a\\nb\\x00.gz"
    assert file_label("/" + "a" * 1000) == "/" + "a" * 299 + "..."
