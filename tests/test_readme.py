"""The README stays true: its settings table is the generated --about output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import command

README = Path(__file__).resolve().parents[1] / "README.md"


def test_settings_table_matches_about_markdown():
    about = subprocess.run(
        [*command(), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    generated = [line for line in about.splitlines() if line.startswith("|")]
    text = README.read_text()
    block = re.search(r"<!-- about:start -->\n(.*?)<!-- about:end -->", text, re.S)
    assert block, "README has no generated settings block"
    if os.environ.get("UPDATE_README"):
        fresh = "\n".join(generated) + "\n"
        README.write_text(text[: block.start(1)] + fresh + text[block.end(1) :])
        pytest.fail("README settings table rewritten (UPDATE_README); review, then run again")
    assert block.group(1).splitlines() == generated


def test_quickstart_has_the_two_commands_ci_relies_on():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_command = re.search(r'TEST_COMMAND="(.*)"', ci).group(1)
    assert test_command in text
    assert "sample/config.dry-run.json" in text


def test_quickstart_demo_runs_on_the_bundled_sample(tmp_path):
    """The demo pipeline: bundled orders, times refreshed, dry run, nothing on the network."""
    root = README.parent
    recent = subprocess.run(
        [
            sys.executable,
            str(root / "sample" / "recent.py"),
            str(root / "sample" / "orders.singer"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = subprocess.run(
        [*command(), "--config", str(root / "sample" / "config.dry-run.json")],
        input=recent,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    bodies = (tmp_path / "output" / "dry-run-requests.jsonl").read_text().splitlines()
    dead = (tmp_path / "output" / "dead-letter.jsonl").read_text().splitlines()
    assert len(bodies) == 1
    assert len(dead) == 1
    assert '"event_id":"gid://shopify/Order/5008"' in dead[0]
    assert result.stdout.strip().startswith('{"bookmarks"')
    assert "jane.doe@example.com" not in bodies[0] + dead[0] + result.stderr


def test_next_to_meltano_config_set_dry_run_the_readme_says_any_other_word_stores_false():
    # Meltano casts a boolean setting itself (true/1/yes/on, else false): `dry_run maybe`
    # turns a dry run off without an error.
    text = README.read_text()
    command = "meltano config set target-pinterest-conversions dry_run false"
    at = text.index(command)
    block_end = text.index("\n```\n", at)
    after = text[block_end : text.index("\n\n", block_end + 5)]
    words = " ".join(after.split())
    assert "`true`, `1`, `yes` and `on` (in any case) store `true`" in words
    assert "any other word stores `false` without an error" in words
    assert "dry_run maybe` (or a typo, `dry_run ture`) stores `false`" in words
