"""The public API: the names DESIGN.md fixes are importable, and ``__all__`` is pinned."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import django_lantern
import django_lantern.logging

ROOT = Path(__file__).resolve().parents[1]

# The public API: every public module and its ``__all__``, sorted. Changing one
# of these lists is changing the API: say so in CHANGELOG.md.
PUBLIC_ALL = {
    "django_lantern": ["__version__", "bind", "propagate"],
    "django_lantern.binding": ["ContextThreadPoolExecutor", "bind", "enter_context", "propagate"],
    "django_lantern.celery": ["instrument"],
    "django_lantern.conf": ["LanternSettings", "get_settings"],
    "django_lantern.context": ["RequestContext", "UNKNOWN", "get_context", "get_request_id"],
    "django_lantern.context_processors": ["request_id"],
    "django_lantern.gunicorn": ["lantern_post_worker_init", "lantern_worker_exit", "post_worker_init", "worker_exit"],
    "django_lantern.health.asgi": ["LanternASGIHandler", "get_asgi_application"],
    "django_lantern.health.builtin": [
        "CeleryBrokerCheck",
        "CeleryWorkersCheck",
        "DiskSpaceCheck",
        "MigrationsCheck",
        "StorageCheck",
    ],
    "django_lantern.health.checks": ["CacheCheck", "CallableCheck", "CheckFailed", "DatabaseCheck", "ReadinessCheck"],
    "django_lantern.logging": ["JsonFormatter", "RequestContextFilter", "TextFormatter", "build_logging_config"],
    "django_lantern.logging.schemas": [
        "DatadogFormatter",
        "EcsFormatter",
        "FORMATS",
        "FORMATTERS",
        "GcpFormatter",
        "JSON_FORMATS",
        "SchemaFormatter",
        "chosen_format",
        "formatter_from_env",
    ],
    "django_lantern.logging.servers": ["SkipRunserverRequestLines", "gunicorn_logconfig_dict", "uvicorn_log_config"],
    "django_lantern.logging.structlog": [
        "add_request_context",
        "configure_structlog",
        "processors",
        "render_to_stdlib",
    ],
    "django_lantern.metrics.cache": [
        "DatabaseCache",
        "FileBasedCache",
        "InstrumentedCacheMixin",
        "LocMemCache",
        "RedisCache",
    ],
    "django_lantern.metrics.archive": ["LockedCollector"],
    "django_lantern.metrics.multiprocess": ["child_exit", "on_exit", "on_starting", "prepare_multiproc_dir"],
    "django_lantern.middleware": ["LanternMiddleware"],
    "django_lantern.outbound": [
        "AsyncHTTPXTransport",
        "HTTPXTransport",
        "RequestsSession",
        "host_allowed",
        "instrument",
        "uninstrument",
    ],
    "django_lantern.reporting": [
        "ScrubbingAdminEmailHandler",
        "ScrubbingExceptionReporter",
        "ScrubbingExceptionReporterFilter",
    ],
    "django_lantern.request_id": ["MAX_LENGTH", "generate", "is_valid"],
    "django_lantern.scrubbing": ["REDACTED", "Scrubber", "get_scrubber"],
    "django_lantern.sentry": ["init", "make_before_send"],
    "django_lantern.sentry._sampling": ["make_traces_sampler"],
    "django_lantern.sentry._transport": ["count_lost_events"],
    "django_lantern.shutdown": ["begin_drain", "flush", "is_draining"],
    "django_lantern.tracing": ["configure", "disable", "enable"],
    "django_lantern.urls": ["app_name", "urlpatterns"],
}

# Modules that are implementation: importable, but not an API anyone should use.
INTERNAL = {
    "django_lantern.celery._integrations",
    "django_lantern.celery._worker",
    "django_lantern.jobs._commands",
    "django_lantern.jobs._djtasks",
    "django_lantern.outbound._headers",
    "django_lantern.outbound._httpx",
    "django_lantern.outbound._requests",
    "django_lantern.jobs._task_line",
    "django_lantern.conf",
    "django_lantern._validators",
    "django_lantern.logging.schemas._base",
    "django_lantern.logging.schemas._datadog",
    "django_lantern.logging.schemas._ecs",
    "django_lantern.logging.schemas._gcp",
    "django_lantern.metrics._archive_files",
    "django_lantern.metrics._exemplars",
    "django_lantern.metrics._pool",
    "django_lantern.metrics._tasks",
    "django_lantern.sentry._event",
    "django_lantern.sentry._frames",
    "django_lantern.sentry._privacy",
    "django_lantern.scrubbing._sql",
    "django_lantern.tracing._exclusion",
    "django_lantern.tracing._exporters",
    "django_lantern.tracing._hooks",
    "django_lantern.tracing._queries",
    "django_lantern.apps",
    "django_lantern._caching",
    "django_lantern.checks",
    "django_lantern.http._client_ip",
    "django_lantern._errors",
    "django_lantern.health",
    "django_lantern.health._database",
    "django_lantern.health._probes",
    "django_lantern.health._registry",
    "django_lantern.health._redis_client",
    "django_lantern.health._runner",
    "django_lantern.health._views",
    "django_lantern.health._worker",
    "django_lantern.logging._config",
    "django_lantern.logging._escape",
    "django_lantern.logging.filters",
    "django_lantern.logging.formatters",
    "django_lantern.logging._text",
    "django_lantern.logging._values",
    "django_lantern.logging._access_log",
    "django_lantern.logging._access_fields",
    "django_lantern.http._probes",
    "django_lantern.logging._access_record",
    "django_lantern.scrubbing._patterns",
    "django_lantern.scrubbing._scanner",
    "django_lantern.http._trace_context",
    "django_lantern.tracing._attributes",
    "django_lantern.logging._record_parts",
    "django_lantern.metrics._process_start",
    "django_lantern.http._response_headers",
    "django_lantern.logging.handlers",
    "django_lantern.management",
    "django_lantern.management.commands",
    "django_lantern.management.commands.lantern_check",
    "django_lantern.metrics",
    "django_lantern.metrics._db",
    "django_lantern.metrics._naming",
    "django_lantern.metrics._families",
    "django_lantern.metrics._recorder",
    "django_lantern.metrics._startup",
    "django_lantern.metrics._views",
    "django_lantern.http._networks",
    "django_lantern._exceptions",
    "django_lantern.http._streaming",
    "django_lantern.templatetags",
    "django_lantern.templatetags.lantern",
    "django_lantern.http._users",
    "django_lantern.urls",
}

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


@pytest.mark.parametrize("module_name", sorted(PUBLIC_ALL))
def test_public_module_all_is_pinned(module_name: str) -> None:
    """Each public module's ``__all__`` is exactly the pinned list, and every name in it exists."""
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC_ALL[module_name])
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name}"


def test_every_module_is_public_or_internal() -> None:
    """A new module is a decision: add it to PUBLIC_ALL (with ``__all__``) or to INTERNAL."""
    found = {"django_lantern"} | {
        info.name for info in pkgutil.walk_packages(django_lantern.__path__, prefix="django_lantern.")
    }
    unclassified = found - PUBLIC_ALL.keys() - INTERNAL
    assert not unclassified, f"classify in tests/test_public_api.py: {sorted(unclassified)}"
    assert not (PUBLIC_ALL.keys() | INTERNAL) - found, "a listed module no longer exists"


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
