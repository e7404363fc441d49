"""A private copy of this checkout, for the tests that build or install it.

setuptools writes ``build/`` and the ``.egg-info`` folder into the tree it builds, so builds
of the checkout itself could not run beside each other (two pytest-xdist workers, or a
developer's own build). A copy costs a few MB and well under a second.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IGNORED_IN_COPIES = shutil.ignore_patterns(
    ".venv*", ".cache", "build", "dist", "*.egg-info", "__pycache__", "mutants", ".meltano"
)


def copy_checkout(folder: Path) -> Path:
    """Copy the checkout into ``folder`` (made here) and return it.

    The copy holds the files git sees (committed, changed and new, not ignored) and ``.git``
    itself, so setuptools-scm gives it the checkout's version; outside git, the whole tree
    without virtualenvs, caches and build output.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0 or not (ROOT / ".git").exists():
        shutil.copytree(ROOT, folder, ignore=IGNORED_IN_COPIES)
        return folder
    folder.mkdir(parents=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet committed is still listed
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    shutil.copytree(ROOT / ".git", folder / ".git", symlinks=True)
    return folder
