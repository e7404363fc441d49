"""The release machinery stays consistent: versions, dependencies, workflows, pre-commit.

Nothing here builds or installs (tests/test_packaging.py does): these read the files a
release is made from and hold them to the rules CONTRIBUTING.md states.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from target_pinterest_conversions.target import TargetPinterestConversions

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "target_pinterest_conversions"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))

# Where a module's distribution has another name than the module.
DISTRIBUTION_OF = {
    "dotenv": "python-dotenv",
    "upath": "universal-pathlib",
    "yaml": "pyyaml",
    "phonenumbers": "phonenumberslite",
    "singer_sdk": "singer-sdk",
}


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def _third_party_modules() -> set[str]:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    return {m for m in _imported_top_level_modules() if m not in stdlib} - {PACKAGE.name}


def _declared(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_the_declared_dependencies_are_the_third_party_imports_of_the_package():
    declared = _declared(PROJECT["dependencies"])
    imported = {canonicalize_name(DISTRIBUTION_OF.get(m, m)) for m in _third_party_modules()}
    assert imported <= declared, f"imported but not declared: {sorted(imported - declared)}"
    # And nothing more: a dependency no module imports is dead weight for every install.
    assert declared <= imported, f"declared but not imported: {sorted(declared - imported)}"
    # The check itself sees the imports it should.
    assert {"singer-sdk", "jsonschema", "phonenumberslite", "orjson"} <= imported


def test_the_version_comes_from_git_tags_and_is_written_nowhere():
    assert "version" not in PROJECT
    assert PROJECT["dynamic"] == ["version"]
    requires = _declared(PYPROJECT["build-system"]["requires"])
    assert "setuptools-scm" in requires
    assert PYPROJECT["tool"]["setuptools_scm"]["fallback_version"]
    # No module of the package spells out a version of its own.
    for path in PACKAGE.rglob("*.py"):
        assert "__version__" not in path.read_text(encoding="utf-8"), path


def test_the_command_reports_the_installed_distributions_version():
    installed = metadata.version("target-pinterest-conversions")
    assert TargetPinterestConversions.plugin_version == installed
    about = TargetPinterestConversions._get_about_info()
    assert about.version == installed


def test_license_and_project_urls_are_declared():
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    urls = PROJECT["urls"]
    assert set(urls) >= {"Homepage", "Repository", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())


def _uses() -> list[tuple[Path, str]]:
    found = []
    for path in WORKFLOWS:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(.+)$", line)
            if match:
                found.append((path, match.group(1).strip()))
    return found


def test_workflows_are_valid_yaml_with_jobs():
    assert {p.name for p in WORKFLOWS} >= {"test.yml", "release.yml"}
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert workflow["jobs"], path
        # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
        assert workflow.get("on", workflow.get(True)), path


def test_every_action_is_pinned_by_full_commit_sha_with_its_version():
    uses = _uses()
    assert uses
    for path, use in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", use), (path, use)


def test_the_test_workflow_runs_ci_run_on_every_supported_python():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    job = workflow["jobs"]["test"]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == ["bash .ci/run"]
    classifiers = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert set(job["strategy"]["matrix"]["python-version"]) == classifiers
    assert "postgres" in job["services"]
    assert {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "REQUIRE_POSTGRES"} <= set(job["env"])


def test_the_release_workflow_checks_then_publishes_with_trusted_publishing():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]
    build = "\n".join(s.get("run", "") for s in workflow["jobs"]["build"]["steps"])
    for command in ("python -m build", "twine check", "--about", "sample/config.dry-run.json"):
        assert command in build
    publish = workflow["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["steps"][-1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "password" not in str(publish)


def test_dependabot_updates_python_dependencies_and_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} == {"pip", "github-actions"}


def _hooks() -> dict[str, tuple[str, dict]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return {
        hook["id"]: (repo.get("rev", ""), hook)
        for repo in config["repos"]
        for hook in repo["hooks"]
    }


def _dev_specifier(name: str) -> SpecifierSet:
    for requirement in map(Requirement, PROJECT["optional-dependencies"]["dev"]):
        if canonicalize_name(requirement.name) == name:
            return requirement.specifier
    raise AssertionError(f"{name} is not a dev extra")


PACKAGE_HOOKS = ("mypy", "lint-imports", "meltano-yml")
"""Hooks that import the package: they run from the project's venv, never from a hook env."""


def test_pre_commit_runs_the_checks_ci_runs_at_the_dev_extras_versions():
    hooks = _hooks()
    assert {
        "ruff-check",
        "ruff-format",
        "mypy",
        "lint-imports",
        "meltano-yml",
        "check-yaml",
    } <= set(hooks)
    rev = hooks["ruff-check"][0].removeprefix("v")
    assert _dev_specifier("ruff").contains(rev), ("ruff-check", rev)
    # The same commands as CI, from the venv `pip install -e '.[dev]'` made.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for hook in ("mypy", "lint-imports"):
        assert hooks[hook][1]["entry"] in ci, hook
    assert hooks["mypy"][1]["entry"] == f".venv/bin/mypy {PACKAGE.name}"
    assert "tests/test_meltano_yml.py" in hooks["meltano-yml"][1]["entry"]


def test_pre_commit_hooks_that_import_the_package_run_from_the_projects_venv():
    hooks = _hooks()
    for hook in PACKAGE_HOOKS:
        rev, definition = hooks[hook]
        assert rev == "", hook  # a local hook, not a repository's own environment
        assert definition["language"] in ("system", "unsupported"), hook
        assert definition["entry"].startswith(".venv/bin/"), hook
        assert definition.get("pass_filenames") is False, hook


def test_pyproject_is_the_one_place_requirements_are_written():
    # A second copy (pre-commit's additional_dependencies, a workflow's pip install) would
    # need the same edit as every Dependabot bump of pyproject.toml, or break CI.
    hooks = _hooks()
    assert [h for h, (_, d) in hooks.items() if d.get("additional_dependencies")] == []
    requirements = [
        requirement.split(";")[0].strip()
        for requirement in (
            *PROJECT["dependencies"],
            *(r for extra in PROJECT["optional-dependencies"].values() for r in extra),
        )
        if Requirement(requirement).specifier
    ]
    for path in (ROOT / ".pre-commit-config.yaml", ROOT / ".ci" / "run", *WORKFLOWS):
        text = path.read_text(encoding="utf-8")
        assert [r for r in requirements if r in text] == [], path


def test_changelog_keeps_an_unreleased_section_on_top():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert sections[0] == "Unreleased"


def _git(*args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    done = subprocess.run([git, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def test_every_version_in_the_changelog_has_its_git_tag():
    # A section without its tag (as [0.1.0] once was) claims a release that no build is:
    # the version comes from the tags, and an untagged checkout reports 0.0.1.devN.
    if _git("rev-parse", "--is-shallow-repository") != "false\n":
        pytest.skip("not a full git clone (an archive or a shallow clone has no tags to check)")
    tags = set((_git("tag", "--list", "v*") or "").split())
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[(\d[^\]]*)\]", changelog, re.M)
    assert [v for v in versions if f"v{v}" not in tags] == []
