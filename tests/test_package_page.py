"""The package index's page (PACKAGE.md, the wheel's long description) is written for pip users.

On a package index a relative link goes nowhere and ``make`` is not a command
a pip user has, so every link is absolute, into the documentation site or the
repository named once in pyproject.toml's ``[project.urls]``, and each points
at a page or file that exists here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
URLS = PROJECT["urls"]
PAGE = (ROOT / PROJECT["readme"]).read_text()
DOCS, SOURCE = URLS["Documentation"], URLS["Source"]

MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
BARE_URL = re.compile(r"(?<![(\w])(https?://[^\s)>\]]+)")
CODE_BLOCK = re.compile(r"```\w*\n(.*?)```", re.DOTALL)


def _links() -> list[str]:
    return MARKDOWN_LINK.findall(PAGE) + BARE_URL.findall(PAGE)


def test_the_wheel_describes_itself_with_the_package_page() -> None:
    assert PROJECT["readme"] == "PACKAGE.md"
    assert "PACKAGE.md" in PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_the_metadata_has_the_project_urls() -> None:
    assert set(URLS) == {"Homepage", "Documentation", "Changelog", "Issues", "Source"}
    assert all(url.startswith("https://") for url in URLS.values())
    assert DOCS.endswith("/") and not SOURCE.endswith("/")


def test_every_link_is_absolute_and_points_at_something_that_exists() -> None:
    links = _links()
    assert len(links) >= 10
    for link in links:
        assert link.startswith("https://"), f"relative link on the package page: {link}"
        if link.startswith(DOCS):
            page = link.removeprefix(DOCS).rstrip("/")
            assert not page or (ROOT / "docs" / f"{page}.md").is_file(), f"{link}: no docs/{page}.md"
        elif link.startswith(SOURCE + "/blob/main/"):
            assert (ROOT / link.removeprefix(SOURCE + "/blob/main/")).is_file(), link
        else:
            assert link in (SOURCE, URLS["Issues"]), f"{link} is neither the docs site nor the repository"


def test_a_pip_user_can_run_every_command_and_the_chapter_is_named() -> None:
    commands = "\n".join(CODE_BLOCK.findall(PAGE))
    assert "pip install" in commands
    assert not re.search(r"^\s*make\b", commands, re.MULTILINE)
    assert '"Logging, Monitoring, and Observability"' in PAGE


def test_every_extra_is_listed() -> None:
    table = re.findall(r"^\| (`[^|]+`) \|", PAGE, re.MULTILINE)
    listed = {name for cell in table for name in re.findall(r"`([\w-]+)`", cell)}
    assert listed == set(PROJECT["optional-dependencies"])


def test_the_docs_site_uses_the_same_addresses() -> None:
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^site_url: (\S+)$", mkdocs, re.MULTILINE)[1] == DOCS  # type: ignore[index]
    assert re.search(r"^repo_url: (\S+)$", mkdocs, re.MULTILINE)[1] == SOURCE  # type: ignore[index]
