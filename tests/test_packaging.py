"""The package builds as an sdist and a wheel, and the wheel installs a working command."""

from __future__ import annotations

import os
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
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    with tarfile.open(sdist) as archive:
        assert any(name.endswith("README.md") for name in archive.getnames())
        assert any(name.endswith("/LICENSE") for name in archive.getnames())
    # The version is the one setuptools-scm gave the build (from the git tags), never a
    # version written in a file: the wheel's name carries it.
    version = wheel.name.split("-")[1]
    if _has_module("twine"):
        subprocess.run(
            [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
            check=True,
            capture_output=True,
        )

    # A clean venv: no PYTHONPATH, which could show pip the checkout's own egg-info (left by
    # the build) as this very version already installed.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
        check=True,
        timeout=600,
        env=clean,
    )
    shown = subprocess.run(
        [str(venv / "bin" / "target-pinterest-conversions"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        env=clean,
    )
    assert f"target-pinterest-conversions v{version}," in shown.stdout + shown.stderr


def _has_module(name: str) -> bool:
    probe = [sys.executable, "-m", name, "--version"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize(
    ("tool", "command", "bin_env", "home_env"),
    [
        ("pipx", ["install", str(ROOT)], "PIPX_BIN_DIR", "PIPX_HOME"),
        ("uv", ["tool", "install", str(ROOT)], "UV_TOOL_BIN_DIR", "UV_TOOL_DIR"),
    ],
)
def test_tool_installers_give_a_working_command(tmp_path, tool, command, bin_env, home_env):
    if not _has_module(tool):
        pytest.skip(f"{tool} is not installed (pip install -e '.[dev]')")
    env = {
        **os.environ,
        bin_env: str(tmp_path / "bin"),
        home_env: str(tmp_path / "home"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }
    subprocess.run(
        [sys.executable, "-m", tool, *command],
        check=True,
        capture_output=True,
        timeout=900,
        env=env,
    )
    about = subprocess.run(
        [str(tmp_path / "bin" / "target-pinterest-conversions"), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert '"name": "target-pinterest-conversions"' in about.stdout
