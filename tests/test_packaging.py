"""The package builds as an sdist and a wheel, and the wheel installs a working command."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from tests.checkout import copy_checkout


@pytest.mark.skipif(
    subprocess.run(
        [sys.executable, "-m", "build", "--version"], capture_output=True, check=False
    ).returncode,
    reason="the build package is not installed (pip install -e '.[dev]')",
)
def test_sdist_and_wheel_build_and_the_wheel_runs(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    # uv sets up the build environments where it is installed (the dev extra), pip elsewhere.
    installer = ["--installer=uv"] if _has_module("uv") else []
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", *installer, "--outdir", str(dist), str(checkout)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
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
    # No bytecode written at install (NO_COMPILE below).
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-compile", str(wheel)],
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


NO_COMPILE = {"pipx": ["--pip-args=--no-compile"], "uv": []}
"""No bytecode written at install: the installers would compile every module of every
dependency (pip: 4.5 of the wheel install's 12.5 CPU-s), the command run here imports a
part of them once. uv compiles only where UV_COMPILE_BYTECODE is set, so it is unset."""


def _has_module(name: str) -> bool:
    probe = [sys.executable, "-m", name, "--version"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize(
    ("tool", "command", "bin_env", "home_env"),
    [
        ("pipx", ["install"], "PIPX_BIN_DIR", "PIPX_HOME"),
        ("uv", ["tool", "install"], "UV_TOOL_BIN_DIR", "UV_TOOL_DIR"),
    ],
)
def test_tool_installers_give_a_working_command(tmp_path, tool, command, bin_env, home_env):
    if not _has_module(tool):
        pytest.skip(f"{tool} is not installed (pip install -e '.[dev]')")
    env = {
        **{k: v for k, v in os.environ.items() if k != "UV_COMPILE_BYTECODE"},
        bin_env: str(tmp_path / "bin"),
        home_env: str(tmp_path / "home"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }
    checkout = copy_checkout(tmp_path / "checkout")
    subprocess.run(
        [sys.executable, "-m", tool, *command, *NO_COMPILE[tool], str(checkout)],
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
