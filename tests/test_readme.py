"""README.md's "Use it in your project" and docs/quickstart.md: the same settings lines,
and they keep ``check --deploy`` clean."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


def _check_deploy(tmp_path: Path, *blocks: str) -> str:
    """``manage.py check --deploy`` on a new ``startproject`` site with ``blocks`` appended to its settings."""
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "django-admin", "startproject", "site1", tmp_path], check=True, env=env, timeout=60)
    settings = tmp_path / "site1" / "settings.py"
    settings.write_text("\n".join([settings.read_text(), *blocks]))
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout + proc.stderr


def _quick_start_block() -> str:
    return next(b for b in _python_blocks((ROOT / "docs/quickstart.md").read_text()) if b.startswith("# settings.py"))


def test_the_quick_start_alone_gives_no_lantern_warning(tmp_path: Path) -> None:
    """The quick start's lines on a new project: check --deploy names no lantern.* issue ("that is all")."""
    output = _check_deploy(tmp_path, _quick_start_block())
    assert "Traceback" not in output, output
    assert "System check identified" in output, output  # Django's own deploy warnings: not ours
    assert re.findall(r"\(lantern\.\w+\).*", output) == []


def test_the_readme_optional_lines_give_no_lantern_warning(tmp_path: Path) -> None:
    """README's optional lines (counted Redis cache, reporters, context processor): still no lantern.* issue."""
    section = (ROOT / "README.md").read_text().split("## Use it in your project", 1)[1].split("\n## ", 1)[0]
    optional = _python_blocks(section)[1]
    assert "django_lantern.metrics.cache.RedisCache" in optional
    output = _check_deploy(tmp_path, _quick_start_block(), optional)
    assert "Traceback" not in output, output
    assert re.findall(r"\(lantern\.\w+\).*", output) == []
