"""``--about --format=markdown``: the SDK's sections, as Markdown that renders as meant.

The SDK's markdown formatter dedents a template that holds the class docstring, whose
lines keep their source indentation; the heading and the first paragraph come out
indented, which Markdown shows as a code block. Its table cells also print enum defaults
as their Python names (``TargetLoadMethods.APPEND_ONLY``) and pass ``|``, ``<`` and ``>``
through, which break a row or vanish as HTML. Here the same sections and table columns
are written with the docstring cleaned, defaults as JSON values and cells escaped; the
README's settings table is this table (tests/test_readme.py).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

from singer_sdk.about import AboutInfo

SDK_LINK = "Built with the [Meltano Singer SDK](https://sdk.meltano.com)."


def markdown_about(info: AboutInfo) -> str:
    """Render ``info`` as Markdown: a heading, the description, lists and the settings table."""
    # Enum defaults (str subclasses) become their values, as in --about --format=json.
    settings = json.loads(json.dumps(info.settings, default=str))
    parts = [
        f"# `{info.name}`",
        inspect.cleandoc(info.description or ""),
        SDK_LINK,
        "## Capabilities",
        "\n".join(f"- `{capability}`" for capability in info.capabilities),
    ]
    if info.supported_python_versions:
        parts += [
            "## Supported Python Versions",
            "\n".join(f"- {version}" for version in info.supported_python_versions),
        ]
    table = [
        "| Setting | Required | Default | Description |",
        "|:--------|:--------:|:-------:|:------------|",
        *_rows(settings),
    ]
    parts += [
        "## Settings",
        "\n".join(table),
        "A full list of supported settings and capabilities is available by running: "
        f"`{info.name} --about`",
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _rows(schema: dict[str, Any], parent: str = "") -> Iterator[str]:
    """One row per setting, then one per nested property, named ``parent.child``."""
    required = schema.get("required", [])
    for name, prop in schema.get("properties", {}).items():
        setting = f"{parent}.{name}" if parent else name
        default = prop.get("default")
        cells = [
            setting,
            "True" if name in required else "False",
            "None" if default is None else _text(default),
            prop.get("description", ""),
        ]
        yield "| " + " | ".join(_cell(cell) for cell in cells) + " |"
        if "properties" in prop:
            yield from _rows(prop, setting)


def _text(value: Any) -> str:
    """A default as the SDK shows it: strings bare, booleans as True/False, others as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    return json.dumps(value)


def _cell(text: str) -> str:
    """Text safe in a table cell: one line, no column break, no HTML tag."""
    return (
        text.replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\r\n", "<br>")
        .replace("\n", "<br>")
    )
