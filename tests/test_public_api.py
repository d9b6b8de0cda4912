"""The public API: docs/api.md's modules import with exactly the documented ``__all__``; the rest is private."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pytest

import django_lantern
import django_lantern.logging

ROOT = Path(__file__).resolve().parents[1]

# The public API is the table of docs/api.md: each module and its ``__all__``.
# Changing it is changing the API: say so in CHANGELOG.md.
API_PAGE = ROOT / "docs" / "api.md"
_ROW = re.compile(r"^\| `(django_lantern[\w.]*)` \| ([^|]+) \|", re.MULTILINE)


def _documented() -> dict[str, list[str]]:
    return {module: re.findall(r"`(\w+)`", names) for module, names in _ROW.findall(API_PAGE.read_text())}


PUBLIC_ALL = _documented()
# Deprecated shims: public for one more release, each importing its names from their new home.
DEPRECATED = {"django_lantern.sentry_sampling", "django_lantern.sentry_transport"}
# Modules Django finds by their names; nobody imports them.
DJANGO_CONVENTIONS = {
    "django_lantern.apps",
    "django_lantern.checks",
    "django_lantern.management",
    "django_lantern.management.commands",
    "django_lantern.management.commands.lantern_check",
    "django_lantern.management.commands.lantern_loglevel",
    "django_lantern.templatetags",
    "django_lantern.templatetags.lantern",
}
# Packages with no public face: every module in them is private.
INTERNAL_PACKAGES = {
    "django_lantern.http",
    "django_lantern.jobs",
    "django_lantern.health",
    "django_lantern.metrics",
    "django_lantern.ops",  # its one public module is ops.urls, the include
}


def _is_private(name: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in name.split("."))


FIXED_NAMES = [
    ("django_lantern.middleware", "LanternMiddleware"),
    ("django_lantern.context", "get_request_id"),
    ("django_lantern.context", "get_context"),
    ("django_lantern.logging", "RequestContextFilter"),
    ("django_lantern.logging", "JsonFormatter"),
    ("django_lantern.logging", "TextFormatter"),
    ("django_lantern.logging", "build_logging_config"),
    ("django_lantern.urls", "urlpatterns"),
    ("django_lantern.health.checks", "ReadinessCheck"),
    ("django_lantern.health.checks", "CheckFailed"),
    ("django_lantern.conf", "get_settings"),
    ("django_lantern", "bind"),
    ("django_lantern", "propagate"),
    ("django_lantern.outbound", "instrument"),
    ("django_lantern.outbound", "RequestsSession"),
    ("django_lantern.outbound", "HTTPXTransport"),
    ("django_lantern.outbound", "AsyncHTTPXTransport"),
]


def test_the_api_page_lists_the_modules() -> None:
    """docs/api.md's table was read: the test below checks something."""
    assert len(PUBLIC_ALL) >= 25 and PUBLIC_ALL.keys() >= DEPRECATED
    assert PUBLIC_ALL["django_lantern.middleware"] == ["LanternMiddleware"]


@pytest.mark.parametrize("module_name", sorted(PUBLIC_ALL))
def test_public_module_all_is_pinned(module_name: str) -> None:
    """Each public module's ``__all__`` is exactly the documented list, and every name in it exists."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC_ALL[module_name])
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name}"


def test_every_module_is_public_or_private_by_name() -> None:
    """The tree draws the line: a module is documented in docs/api.md, or private (``_name``),
    or one Django finds by convention; a new module is one of the three."""
    found = {"django_lantern"} | {
        info.name for info in pkgutil.walk_packages(django_lantern.__path__, prefix="django_lantern.")
    }
    unclassified = {
        name for name in found - PUBLIC_ALL.keys() - DJANGO_CONVENTIONS - INTERNAL_PACKAGES if not _is_private(name)
    }
    assert not unclassified, f"document in docs/api.md or make private (_name): {sorted(unclassified)}"
    assert not (PUBLIC_ALL.keys() | DJANGO_CONVENTIONS | INTERNAL_PACKAGES) - found, "a listed module no longer exists"


@pytest.mark.parametrize("module_name", sorted(DEPRECATED))
def test_deprecated_shims_warn_and_give_the_same_objects(module_name: str) -> None:
    """A moved public module still imports for one release, with a DeprecationWarning naming the new place."""
    sys.modules.pop(module_name, None)
    with pytest.warns(DeprecationWarning, match="django_lantern.sentry"):
        module = importlib.import_module(module_name)
    import django_lantern.sentry

    for name in module.__all__:
        assert getattr(module, name) is getattr(django_lantern.sentry, name)


def test_version_is_single_sourced() -> None:
    """The installed distribution's version is ``__version__``, and no other file states it."""
    assert re.fullmatch(r"\d+\.\d+\.\d+", django_lantern.__version__)
    assert metadata.version("django-lantern") == django_lantern.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE)


def test_changelog_has_a_section_for_this_version() -> None:
    """CHANGELOG.md keeps Keep a Changelog's form: Unreleased first, then this version with a date."""
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", changelog, re.MULTILINE)
    assert headings[0][0] == "Unreleased"
    versions = {name: rest for name, rest in headings[1:]}
    assert django_lantern.__version__ in versions
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", versions[django_lantern.__version__])
    section = changelog.split(f"## [{django_lantern.__version__}]", 1)[1].split("\n## [", 1)[0]
    assert "### Added" in section


@pytest.mark.parametrize(("module", "name"), FIXED_NAMES)
def test_fixed_names_are_importable(module: str, name: str) -> None:
    """Every name the documentation has users write (docs/api.md) is importable from its module."""
    assert hasattr(importlib.import_module(module), name)


def test_url_names_and_paths() -> None:
    """``django_lantern.urls`` serves healthz, readyz, metrics, statusz and threadz under the ``lantern`` namespace."""
    from django.urls import reverse

    assert reverse("lantern:healthz") in ("/healthz", "/healthz/")
    assert {p.name for p in importlib.import_module("django_lantern.urls").urlpatterns} == {
        "healthz",
        "readyz",
        "readyz-check",  # /readyz/<check> (docs/health.md)
        "metrics",
        "statusz",  # docs/status.md
        "threadz",  # docs/status.md
    }
    assert reverse("lantern:readyz-check", args=["db:default"]) in ("/readyz/db:default", "/readyz/db:default/")


def test_importing_the_logging_helpers_reads_no_settings() -> None:
    """Settings files import ``build_logging_config`` before Django is configured: that must work."""
    code = (
        "import sys; from django_lantern.logging import build_logging_config; "
        "import django_lantern.context, django_lantern.request_id; "
        "config = build_logging_config(); "
        "assert 'django.db.models' not in sys.modules, 'models imported'; "
        "print(config['handlers']['console']['formatter'])"
    )
    env = {"PATH": "/usr/bin:/bin", "LANTERN_LOG_FORMAT": "text"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "text"
