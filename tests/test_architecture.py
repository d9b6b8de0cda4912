"""ARCHITECTURE.md describes the tree as it is, and its layers are the import-linter contract's."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "django_lantern"
PAGE = (ROOT / "ARCHITECTURE.md").read_text()


def _block(heading: str) -> str:
    section = PAGE.split(f"## {heading}", 1)[1]
    return section.split("```", 2)[1]


def _tree() -> dict[str, str]:
    """Each top-level entry of the tree block and the text describing it (continuation lines included)."""
    entries: dict[str, str] = {}
    name = ""
    for line in _block("The tree").splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            name, _, text = line.partition(" ")
            entries[name] = text
        else:
            entries[name] += " " + line.strip()
    return entries


def _on_disk() -> set[str]:
    modules = {path.name for path in PACKAGE.glob("*.py")}
    packages = {f"{path.parent.name}/" for path in PACKAGE.glob("*/__init__.py")}
    return modules | packages


def test_the_tree_lists_every_top_level_module_and_package() -> None:
    """Every top-level module and package appears in the tree, and the tree names nothing that is not there."""
    assert set(_tree()) == _on_disk()


def test_private_modules_named_in_the_tree_exist() -> None:
    """Each ``_module`` the tree names under a package is a module of that package."""
    named = 0
    for entry, text in _tree().items():
        if not entry.endswith("/"):
            continue
        for private in re.findall(r"(?<![\w.])(_[a-z][a-z_]*)", text):
            named += 1
            assert (PACKAGE / entry / f"{private}.py").exists(), f"{entry}{private}.py"
    assert named >= 30


def test_the_layers_are_the_contracts_layers() -> None:
    """The layer lines of the page are, in order, the layers import-linter enforces."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c for c in config["contracts"] if c["type"] == "layers"]
    lines = [line for line in _block("The layers").splitlines() if line.strip() and not line.startswith(" ")]
    documented = [re.split(r"\s{2,}", line.strip())[0] for line in lines]
    assert documented == layers["layers"]
    assert {c["type"] for c in config["contracts"]} >= {"acyclic_siblings", "layers", "forbidden"}
