"""The public API: the names DESIGN.md fixes are importable, and ``__all__`` is pinned."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import django_lantern
import django_lantern.logging

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
]


def test_package_all_is_pinned() -> None:
    """``django_lantern.__all__`` is exactly the documented list."""
    assert sorted(django_lantern.__all__) == ["__version__", "bind", "propagate"]
    assert isinstance(django_lantern.__version__, str)


def test_logging_all_is_pinned() -> None:
    """``django_lantern.logging.__all__`` names the filter, both formatters and the config builder."""
    assert sorted(django_lantern.logging.__all__) == [
        "JsonFormatter",
        "RequestContextFilter",
        "TextFormatter",
        "build_logging_config",
    ]
    for name in django_lantern.logging.__all__:
        assert hasattr(django_lantern.logging, name)


@pytest.mark.parametrize(("module", "name"), FIXED_NAMES)
def test_fixed_names_are_importable(module: str, name: str) -> None:
    """Every name DESIGN.md fixes is importable from its module."""
    assert hasattr(importlib.import_module(module), name)


def test_url_names_and_paths() -> None:
    """``django_lantern.urls`` serves healthz, readyz and metrics under the ``lantern`` namespace."""
    from django.urls import reverse

    assert reverse("lantern:healthz") in ("/healthz", "/healthz/")
    assert {p.name for p in importlib.import_module("django_lantern.urls").urlpatterns} == {
        "healthz",
        "readyz",
        "readyz-check",  # /readyz/<check> (docs/health.md)
        "metrics",
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
