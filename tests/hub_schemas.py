"""The Meltano Hub's JSON Schemas for a loader definition, from meltano/hub at a pinned commit.

``tests/test_hub_definition.py`` validates plugin/loaders/target-pinterest-conversions.yml
against ``schemas/plugin_definitions/loaders.schema.json`` of meltano/hub and the files its
``$ref`` s reach (:data:`FILES`). Where ``../shared/reference/meltano-hub-schemas`` is not
beside the checkout (on GitHub), ``.ci/run`` downloads them with this script, standard
library only, at :data:`PINNED_COMMIT` (the one place the pin is written)::

    python3 tests/hub_schemas.py .cache/meltano-hub-schemas

and points ``MELTANO_HUB_SCHEMAS`` at that folder (the Hub's layout under ``schemas/``).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

PINNED_COMMIT = "9d28b36a64bf1ba18d6b0dd6936d8f14d2eaa0ba"
"""meltano/hub on main, 2026-08-02: the schemas ../shared/reference/meltano-hub-schemas hold."""

BASE_URL = f"https://raw.githubusercontent.com/meltano/hub/{PINNED_COMMIT}/schemas"

FILES = (
    "plugin_definitions/loaders.schema.json",
    "plugin_definitions/hub_metadata.schema.json",
    "common/common.schema.json",
    "common/base_setting.schema.json",
    "common/loaders_specific.schema.json",
)
"""Under ``schemas/`` of meltano/hub: the loader schema first, then every file it reaches."""


def download(folder: Path, base_url: str = BASE_URL, timeout: float = 60) -> None:
    """Write :data:`FILES` under ``folder``; all of them or, on any failure, none."""
    texts = {}
    for name in FILES:
        url = f"{base_url}/{name}"
        if not url.startswith(("https://", "http://127.0.0.1")):
            raise ValueError(f"not a GitHub or loopback URL: {url}")
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (checked)
            texts[name] = answer.read().decode("utf-8")
        json.loads(texts[name])  # a JSON Schema, not an error page
    for name, text in texts.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 tests/hub_schemas.py FOLDER")
    try:
        download(Path(sys.argv[1]))
    except (OSError, ValueError) as exc:
        sys.exit(f"the Meltano Hub's schemas could not be downloaded: {exc}")
