"""The package builds as an sdist and a wheel, and the wheel installs a working command."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    subprocess.run(
        [sys.executable, "-m", "build", "--version"], capture_output=True, check=False
    ).returncode,
    reason="the build package is not installed (pip install -e '.[dev]')",
)
def test_sdist_and_wheel_build_and_the_wheel_runs(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next((tmp_path / "dist").glob("*.whl"))
    sdist = next((tmp_path / "dist").glob("*.tar.gz"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "target_pinterest_conversions/target.py" in names
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)
    with tarfile.open(sdist) as archive:
        assert any(name.endswith("README.md") for name in archive.getnames())

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=600
    )
    version = subprocess.run(
        [str(venv / "bin" / "target-pinterest-conversions"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "target-pinterest-conversions v0.1.0" in version.stdout + version.stderr
