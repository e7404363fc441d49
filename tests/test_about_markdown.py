"""``--about --format=markdown`` is Markdown that renders as meant (see about.py).

The SDK's own output starts with an indented heading and description, which Markdown shows
as a code block; here it must start with a heading, hold no indented code block, and have a
settings table with one well-formed row per setting.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from target_pinterest_conversions.about import markdown_about
from target_pinterest_conversions.target import TargetPinterestConversions
from tests.cli import command
from tests.test_meltano_yml import SETTINGS

MARKDOWN = markdown_about(TargetPinterestConversions._get_about_info())
LINES = MARKDOWN.splitlines()
HEADER = "| Setting | Required | Default | Description |"


def _rows(properties: dict, parent: str = "") -> list[str]:
    names = []
    for name, prop in properties.items():
        names.append(f"{parent}{name}")
        names += _rows(prop.get("properties", {}), f"{parent}{name}.")
    return names


def _cells(row: str) -> list[str]:
    """A table row's cells, split at the pipes that are not escaped."""
    assert row.startswith("| ") and row.endswith(" |"), row
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row[1:-1])]


def test_it_starts_with_the_plugins_name_as_a_heading():
    assert LINES[0] == f"# `{TargetPinterestConversions.name}`"
    assert LINES[2].startswith("Send Singer records to the Pinterest API for Conversions")


def test_it_has_no_indented_code_block():
    # A line indented by 4 spaces or a tab after a blank line starts a code block; the
    # output has no fenced block either, so no line may be indented at all.
    assert [line for line in LINES if re.match(r"^( {4}|\t)", line)] == []
    assert [line for line in LINES if line != line.lstrip()] == []
    assert "```" not in MARKDOWN


def test_its_headings_are_the_sdks_sections():
    headings = [line for line in LINES if line.startswith("#")]
    assert headings == [
        f"# `{TargetPinterestConversions.name}`",
        "## Capabilities",
        "## Supported Python Versions",
        "## Settings",
    ]
    capabilities = [str(c.value) for c in TargetPinterestConversions.capabilities]
    assert [f"- `{c}`" for c in capabilities] == [line for line in LINES if line.startswith("- `")]


def test_the_settings_table_has_a_well_formed_row_per_setting():
    start = LINES.index(HEADER)
    assert LINES[start - 1] == ""  # a table must follow a blank line
    assert LINES[start + 1] == "|:--------|:--------:|:-------:|:------------|"
    rows = []
    for line in LINES[start + 2 :]:
        if not line:
            break
        rows.append(_cells(line))
    assert all(len(cells) == 4 for cells in rows), [c for c in rows if len(c) != 4]
    assert [cells[0] for cells in rows] == _rows(SETTINGS)
    assert all(cells[1] in ("True", "False") for cells in rows)
    by_name = {cells[0]: cells for cells in rows}
    assert by_name["streams"][1] == "True"
    # Defaults as --about --format=json gives them, not as Python enum names.
    assert by_name["load_method"][2] == "append-only"
    assert by_name["max_rejected_ratio"][2] == "0.5"
    # No raw angle brackets, which Markdown would take for HTML tags and hide.
    assert "&lt;name&gt;-&lt;UTC time&gt;-&lt;part&gt;.csv" in by_name["csv_path"][3]
    assert not any("<" in cell or ">" in cell for cells in rows for cell in cells)


def test_a_markdown_parser_sees_the_headings_and_one_table():
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(MARKDOWN)
    kinds = [t.type for t in tokens]
    assert "code_block" not in kinds and "fence" not in kinds
    assert kinds[0] == "heading_open" and tokens[0].tag == "h1"
    assert kinds.count("table_open") == 1
    assert kinds.count("tr_open") == 1 + len(_rows(SETTINGS))  # the header and the rows


@pytest.mark.cli
def test_the_command_prints_it():
    about = subprocess.run(
        [*command(), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert about == MARKDOWN
