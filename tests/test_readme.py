"""README.md's "Use it in your project" and docs/quickstart.md give the same settings lines."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _code_lines(block: str) -> list[str]:
    """The statements of a code block, comments and blank lines left out."""
    return [line.split("  #")[0].rstrip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_readme_settings_are_the_quick_starts() -> None:
    """The quick start's settings block (what CI's wheel smoke test applies) is the README's first settings block."""
    quickstart = next(
        b for b in _python_blocks((ROOT / "docs/quickstart.md").read_text()) if b.startswith("# settings.py")
    )
    section = (ROOT / "README.md").read_text().split("## Use it in your project", 1)[1].split("\n## ", 1)[0]
    readme = _python_blocks(section)[0]
    assert _code_lines(readme) == _code_lines(quickstart)


def test_readme_names_the_optional_pieces_the_quick_start_lists() -> None:
    """Counted caches, the reporter filter, the context processor and the template tag appear in both."""
    readme = (ROOT / "README.md").read_text()
    quickstart = (ROOT / "docs/quickstart.md").read_text()
    for needle in (
        "django_lantern.metrics.cache.",
        "DEFAULT_EXCEPTION_REPORTER_FILTER",
        "django_lantern.context_processors.request_id",
        "{% request_id %}",
        "mail_admins",
        "runserver",
    ):
        assert needle in readme and needle in quickstart, needle
    assert "No URL include is needed" in readme and "No URL to include" in quickstart


def test_the_docs_say_runservers_request_line_is_dropped() -> None:
    """As SkipRunserverRequestLines does (tests/logging/test_servers.py): one line per request, the access line."""
    for doc in (ROOT / "README.md", ROOT / "docs/quickstart.md"):
        text = " ".join(doc.read_text().split())
        assert "request line, `django.server`, is dropped" in text or "(logger `django.server`) is dropped" in text
        assert "next to the access line" not in text, doc.name


def test_the_extras_listed_are_the_wheels() -> None:
    """README and the quick start list every extra pyproject.toml declares, and no other."""
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    for doc in (ROOT / "README.md", ROOT / "docs/quickstart.md"):
        sentence = doc.read_text().split("\nExtras, ", 1)[1].split("\n\n", 1)[0]
        assert set(re.findall(r"`\[([a-z-]+)\]`", sentence)) == declared, doc.name
