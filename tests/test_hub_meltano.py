"""The README's "In any Meltano project": the loader added from its Hub definition, then run.

In a scratch Meltano project: the README's ``meltano add ... --from-ref`` command with the
definition's local copy in place of its URL (``pip_url`` pointed at a copy of this checkout), the
``meltano config set`` of the settings a run needs, and a dry-run ``meltano run`` with a
shell tap that prints the bundled sample orders. Like tests/test_meltano.py, skipped unless
Meltano is available (``MELTANO_BIN`` or ``meltano`` on PATH) or ``REQUIRE_MELTANO`` is set.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import uuid

import yaml

from tests.test_hub_definition import DEFINITION_PATH
from tests.test_meltano import MELTANO, ROOT, meltano, pytestmark  # noqa: F401

README = ROOT / "README.md"


def readme_commands() -> list[str]:
    """The bash lines of the README's "In any Meltano project" section, comments removed."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n### In any Meltano project\n")
    section = text[start : text.index("\n### ", start + 1)]
    blocks = re.findall(r"^```bash\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]


def test_the_loader_added_from_its_definition_runs_in_a_scratch_project(tmp_path, meltano_plugins):
    definition = yaml.safe_load(DEFINITION_PATH.read_text(encoding="utf-8"))
    # The worker's copy of the checkout and its plugin virtualenvs (tests/conftest.py): the
    # loader is installed once for all the Meltano tests of a worker.
    checkout = meltano_plugins.checkout
    definition["pip_url"] = f"-e {checkout}"
    local = tmp_path / "definition.yml"
    local.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")

    orders = tmp_path / "orders.singer"
    orders.write_text(
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "sample" / "recent.py"),
                str(ROOT / "sample" / "orders.singer"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout,
        encoding="utf-8",
    )
    tap = tmp_path / "tap-orders"
    tap.write_text(f"#!/bin/sh\nexec cat {shlex.quote(str(orders))}\n", encoding="utf-8")
    tap.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "meltano.yml").write_text(
        yaml.safe_dump(
            {
                "requires_meltano": ">=4.0",
                "project_id": "hub-scratch",
                "default_environment": "dev",
                "environments": [{"name": "dev"}],
                "plugins": {
                    "extractors": [
                        {"name": "tap-orders", "namespace": "tap_orders", "executable": str(tap)}
                    ]
                },
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    meltano_plugins.link(project)

    commands = readme_commands()
    add = next(c for c in commands if c.startswith("meltano add "))
    url = add.rsplit(" ", 1)[-1]
    assert url.endswith("/main/plugin/loaders/target-pinterest-conversions.yml"), url
    meltano(project, *shlex.split(add.replace(url, str(local)))[1:])
    plugins = yaml.safe_load((project / "meltano.yml").read_text(encoding="utf-8"))["plugins"]
    assert set(plugins) == {"extractors", "loaders"}  # no stray utility
    (loader,) = plugins["loaders"]
    assert loader["pip_url"] == f"-e {checkout}"
    assert loader["settings"] == definition["settings"]
    meltano_plugins.installed.add((loader["name"], loader["pip_url"]))

    token = f"hub-test-token-{uuid.uuid4().hex}"
    sets = [shlex.split(c)[1:] for c in commands if c.startswith("meltano config set ")]
    assert [s[3] for s in sets] == ["ad_account_id", "streams", "--interactive"]
    for words in sets[:2]:
        meltano(project, *words)
    # The README asks for the token interactively; set here from the command line.
    for name, value in (
        ("access_token", token),
        ("dry_run", "true"),
        ("dry_run_path", "dry-run.jsonl"),
        ("dead_letter_path", "dead-letter.jsonl"),
    ):
        meltano(project, "config", "set", "target-pinterest-conversions", name, value)
    assert token not in (project / "meltano.yml").read_text(encoding="utf-8")
    assert token in (project / ".env").read_text(encoding="utf-8")  # sensitive: in .env

    run = next(c for c in commands if c.startswith("meltano run "))
    assert run == "meltano run tap-shopify target-pinterest-conversions"
    meltano(project, "run", "tap-orders", "target-pinterest-conversions")
    bodies = [json.loads(line) for line in (project / "dry-run.jsonl").read_text().splitlines()]
    events = [event for body in bodies for event in body["data"]]
    assert {body["ad_account_id"] for body in bodies} == {"549755885175"}
    assert len(events) == 19  # 20 sample orders, one without any match key
    dead = (project / "dead-letter.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"]["id"] for line in dead] == ["gid://shopify/Order/5008"]
