"""The README's "With Meltano" section, run as written in a fresh clone of this repository.

The commands are read from README.md (the section from "### With Meltano" up to
"### Examples", its ``bash`` blocks; nothing is copied here) and run in order with bash in a
``git clone`` of this repository. A clone holds the committed HEAD only: commit README,
sample and meltano.yml changes before running this test. ``meltano`` stands for
``MELTANO_BIN`` when it is set; like tests/test_meltano.py, the test is skipped unless
Meltano is available or ``REQUIRE_MELTANO`` is set.

The first block (the sample job, a dry run) and then the "your own project" block run in the
same clone, which is the scratch project of the second block. Every line must exit 0, except
the lines NOT_RUN lists, each with its reason. The interactive ``config set`` is answered on
stdin. Pinterest is never contacted: every command gets
``TARGET_PINTEREST_CONVERSIONS_API_URL`` of a local FakePinterest, which must see no request
during the dry run and exactly the one ``test=true`` request of the live ``--check``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fake_pinterest import FakePinterest
from tests.test_meltano import NO_BYTECODE_SETTINGS

ROOT = Path(__file__).resolve().parents[1]
MELTANO = os.environ.get("MELTANO_BIN") or shutil.which("meltano")
LOADER = "target-pinterest-conversions"
TOKEN_VARIABLE = "TARGET_PINTEREST_CONVERSIONS_ACCESS_TOKEN"
REDACTED = "*****"  # how `meltano config print` shows a sensitive value

# README lines that are not run, by prefix, each with the reason. Every rule must match a
# line, so that a rule cannot outlive the command it was written for.
NOT_RUN = {
    # Installs Meltano itself: the test runs the Meltano it was given (MELTANO_BIN or the
    # `meltano` on PATH) and must not install tools into the user's environment.
    "pipx install meltano": "installs Meltano itself",
    # Needs the tap-shopify extractor, which this project does not define, and a real
    # shop's credentials; the sample job above runs the same loader end to end.
    "meltano run tap-shopify ": "needs tap-shopify and a real shop",
}

pytestmark = pytest.mark.skipif(
    MELTANO is None and not os.environ.get("REQUIRE_MELTANO"),
    reason="meltano is not installed (bash .ci/run installs it)",
)


@dataclass
class Line:
    """One shell command of the section: its text without the comment, and the comment."""

    block: int
    command: str
    comment: str


def _split_comment(line: str) -> tuple[str, str]:
    """Split a shell line at its first ``#`` outside quotes that starts a word."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def section_lines(readme: str) -> list[Line]:
    """The shell lines of the README's "With Meltano" section, in order."""
    start = readme.index("\n### With Meltano\n")
    end = readme.index("\n### Examples", start)
    section = readme[start:end]
    blocks = re.findall(r"^```(bash|sh|shell)\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    lines: list[Line] = []
    for number, (_, body) in enumerate(blocks):
        for raw in body.replace("\\\n", " ").splitlines():
            command, comment = _split_comment(raw.strip())
            if command:
                lines.append(Line(number, command, comment))
    return lines


def not_run_reason(command: str) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if command.startswith(prefix)), None)


def clean_env(api_url: str) -> dict[str, str]:
    """This process's environment without settings that could reach into the clone, and
    without the bytecode settings: Python compiles what the plugins import when they first
    run, not all of each virtualenv at `meltano install` (tests/test_meltano.py)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MELTANO_", "TARGET_PINTEREST_CONVERSIONS_", "TAP_JSONL_"))
        and name not in NO_BYTECODE_SETTINGS
    }
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["TARGET_PINTEREST_CONVERSIONS_API_URL"] = api_url
    return env


def bash(
    folder: Path, command: str, env: dict[str, str], answers: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run one README line with bash; ``meltano`` is a function calling MELTANO_BIN.

    Stdin holds ``answers`` only, so a prompt nobody expected ends at end of input
    instead of waiting forever.
    """
    assert MELTANO, "REQUIRE_MELTANO is set but meltano is not installed"
    script = f'meltano() {{ {shlex.quote(MELTANO)} "$@"; }}\nset -eo pipefail\n{command}\n'
    return subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=env,
        input=answers,
        capture_output=True,
        text=True,
        timeout=900 if " install" in command else 300,
        check=False,
    )


def interactive_answers(folder: Path, line: Line, env: dict[str, str], token: str) -> str:
    """Stdin for `config set --interactive`: access_token's number, the token twice, exit.

    The number is read from Meltano's menu (shown by a first run that exits at once); when
    the README's comment names a number for access_token, it must be the same.
    """
    menu = bash(folder, line.command, env, answers="e\n")
    assert menu.returncode == 0, menu.stderr[-4000:]
    found = re.search(r"(\d+)\. access_token:", menu.stdout)
    assert found, f"no access_token in the menu of `{line.command}`:\n{menu.stdout[-4000:]}"
    said = re.search(r"(\d+) \(access_token\)", line.comment)
    if said:
        assert said.group(1) == found.group(1), (
            f"the README says to choose {said.group(1)} for access_token, "
            f"Meltano's menu lists it as {found.group(1)}"
        )
    return f"{found.group(1)}\n{token}\n{token}\ne\n"


def set_values(lines: list[Line]) -> dict[str, object]:
    """Settings the lines set with `meltano config set <loader> <name> <value>`, as printed."""
    values: dict[str, object] = {}
    for line in lines:
        words = shlex.split(line.command)
        if words[:4] == ["meltano", "config", "set", LOADER] and len(words) == 6:
            try:
                value: object = json.loads(words[5])
            except json.JSONDecodeError:
                value = words[5]
            values[words[4]] = value if isinstance(value, dict | list | bool) else words[5]
    return values


def _warn_about_uncommitted_changes() -> None:
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "README.md", "meltano.yml", "sample"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if changed.strip():
        warnings.warn(
            f"uncommitted changes are not in the clone this test runs:\n{changed}",
            stacklevel=2,
        )


def test_the_readme_meltano_section_runs_as_written_in_a_fresh_clone(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: there is no repository to clone")
    _warn_about_uncommitted_changes()
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
        check=True,
        capture_output=True,
    )
    assert not (clone / "output").exists()  # the section must create it
    lines = section_lines((clone / "README.md").read_text(encoding="utf-8"))
    assert {line.block for line in lines} == {0, 1}, "expected the sample and own-project blocks"
    token = f"readme-test-token-{uuid.uuid4().hex}"

    results: dict[tuple[int, str], subprocess.CompletedProcess[str]] = {}
    skipped: list[tuple[str, str]] = []
    requests_in_dry_run = None
    with FakePinterest(token=token) as api:
        env = clean_env(api.url)
        for line in lines:
            if line.block == 1 and requests_in_dry_run is None:
                requests_in_dry_run = len(api.requests)
            reason = not_run_reason(line.command)
            if reason is not None:
                skipped.append((line.command, reason))
                print(f"NOT RUN ({reason}): {line.command}")
                continue
            answers = ""
            if "--interactive" in shlex.split(line.command):
                answers = interactive_answers(clone, line, env, token)
            began = time.monotonic()
            result = bash(clone, line.command, env, answers)
            print(f"exit {result.returncode} in {time.monotonic() - began:.1f}s: {line.command}")
            assert result.returncode == 0, (
                f"README command failed (exit {result.returncode}): {line.command}\n"
                f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-4000:]}"
            )
            results[(line.block, line.command)] = result

    def result_of(block: int, prefix: str) -> subprocess.CompletedProcess[str]:
        found = [r for (b, c), r in results.items() if b == block and c.startswith(prefix)]
        assert len(found) == 1, f"block {block + 1} should run one `{prefix}...`"
        return found[0]

    # Every rule of NOT_RUN skipped a line of the README.
    unused = [p for p in NOT_RUN if not any(command.startswith(p) for command, _ in skipped)]
    assert unused == [], f"NOT_RUN rules that match no README line: {unused}"

    # The sample job: a dry run of every order, with nothing sent anywhere.
    assert requests_in_dry_run == 0
    check = result_of(0, f"meltano invoke {LOADER} --check")
    assert "dry_run is true, so Pinterest was not contacted" in check.stderr, check.stderr
    orders = (clone / "output" / "orders.jsonl").read_text().splitlines()
    assert len(orders) > 0
    bodies = (clone / "output" / "dry-run-requests.jsonl").read_text().splitlines()
    assert bodies, "the dry run wrote no request body"
    events = sum(len(json.loads(body)["data"]) for body in bodies)
    dead_letters = clone / "output" / "dead-letter.jsonl"
    dead = len(dead_letters.read_text().splitlines()) if dead_letters.exists() else 0
    assert events > 0
    assert events + dead == len(orders)
    run = result_of(0, "meltano run sample-orders")
    assert "Run succeeded" in run.stderr, run.stderr[-4000:]
    state = json.loads(result_of(0, "meltano state get").stdout)
    assert state["singer_state"]["bookmarks"]["orders"]["replication_key_value"]

    # Your own project: the token went to .env only, the other values to meltano.yml.
    env_file = (clone / ".env").read_text()
    assert re.search(rf"^{TOKEN_VARIABLE}=['\"]?{re.escape(token)}['\"]?$", env_file, re.M)
    assert token not in (clone / "meltano.yml").read_text()
    printed = json.loads(result_of(1, f"meltano config print {LOADER}").stdout)
    assert printed["access_token"] == REDACTED
    expected = set_values([line for line in lines if line.block == 1])
    assert {"ad_account_id", "streams"} <= expected.keys()
    assert {name: printed.get(name) for name in expected} == expected
    # The live check used the token from .env: one test request, accepted.
    live = result_of(1, f"meltano invoke {LOADER} --check")
    assert "Connection check passed" in live.stderr, live.stderr[-4000:]
    assert len(api.requests) == 1
    assert api.requests[0].query == {"test": ["true"]}
    assert len(api.requests[0].events) == 1
    assert api.errors == []
    # The token was never printed.
    for result in results.values():
        assert token not in result.stdout + result.stderr


def test_meltano_yml_shows_only_commands_from_the_readme_section():
    """The comment atop meltano.yml repeats commands of the README section, none other."""
    header = []
    for raw in (ROOT / "meltano.yml").read_text().splitlines():
        if not raw.startswith("#"):
            break
        if raw.startswith("#   "):
            header.append(_split_comment(raw[1:].strip())[0])
    readme = {line.command for line in section_lines((ROOT / "README.md").read_text())}
    assert header, "meltano.yml's comment shows no command"
    assert [command for command in header if command not in readme] == []
