"""The README's layout tree is the package's; its pure packages and layers are the contracts'."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "target_pinterest_conversions"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _tree() -> str:
    return README.split("<!-- layout:start -->", 1)[1].split("<!-- layout:end -->", 1)[0]


def _readme_modules() -> tuple[set[str], set[str]]:
    """Module paths and the packages and top-level modules marked ``[pure]``, from the README."""
    modules: set[str] = set()
    pure: set[str] = set()
    folders: list[str] = []  # the folders the line is in, outermost first
    for line in _tree().splitlines():
        match = re.match(r"^[│ ]*[├└]── (\S+)\s*(.*)$", line)
        if not match:
            continue
        name, text = match.groups()
        depth = line.index(name) // 4
        del folders[depth - 1 :]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
            if depth == 1 and text.startswith("[pure]"):
                pure.add(folders[0])
            continue
        modules.add("/".join([*folders, name]))
        if depth == 1 and text.startswith("[pure]"):
            pure.add(name.removesuffix(".py"))
    return modules, pure


def _top_level() -> set[str]:
    """The package's top-level packages and modules, by name."""
    return {
        path.with_suffix("").name
        for path in PACKAGE.glob("*")
        if path.name not in ("__init__.py", "__pycache__")
    }


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def test_the_readme_tree_lists_every_module_and_no_other():
    modules, _ = _readme_modules()
    actual = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    }
    assert modules == actual


def test_the_pure_packages_are_the_ones_the_import_contract_holds():
    _, pure = _readme_modules()
    purity = next(c for c in _contracts() if c["name"].startswith("The rule packages are pure"))
    assert {m.rsplit(".", 1)[1] for m in purity["source_modules"]} == pure
    # Every I/O module of ours is forbidden to them.
    forbidden = {
        m.split(".", 1)[1] for m in purity["forbidden_modules"] if m.startswith("target_pinterest")
    }
    assert forbidden == _top_level() - pure


def test_the_errors_import_none_of_ours():
    # Every module may import errors.py; it imports no other module of ours.
    errors = ["target_pinterest_conversions.errors"]
    leaf = next(c for c in _contracts() if c.get("source_modules") == errors)
    assert {m.split(".", 1)[1] for m in leaf["forbidden_modules"]} == _top_level() - {"errors"}


def _layers_contract() -> dict:
    return next(c for c in _contracts() if c["type"] == "layers")


def test_every_module_has_its_layer_and_the_readme_names_them_in_order():
    layers = _layers_contract()
    assert layers["containers"] == ["target_pinterest_conversions"]
    assert layers["exhaustive"] is True
    named = {name.strip() for layer in layers["layers"] for name in re.split("[|:]", layer)}
    assert named == _top_level()
    # The README's one-line picture of the layers is the contract's, top to bottom.
    text = " ".join(README.split("Imports run one way", 1)[1].split("\n\n", 1)[0].split())
    line = re.search(r"`__main__[^`]*`.*?`about \| errors`", text)
    assert line is not None
    assert re.findall(r"`([^`]+)`", line.group(0)) == layers["layers"]


def test_the_code_generator_is_conversions_alone():
    private = next(c for c in _contracts() if c["type"] == "private_modules")
    assert private["packages_with_private_modules"] == ["target_pinterest_conversions"]
    assert (PACKAGE / "conversion" / "_codegen").is_dir()
    assert not (PACKAGE / "codegen").exists()
