"""System checks: lantern.E001, W001, W002 and E002, each naming the setting, the value and the fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core import checks as django_checks

from django_lantern import checks, conf

MIDDLEWARE = "django_lantern.middleware.LanternMiddleware"


def _ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def test_example_project_is_clean() -> None:
    """The example project's settings raise no lantern check."""
    messages = django_checks.run_checks(include_deployment_checks=False)
    assert [m for m in messages if (m.id or "").startswith("lantern.")] == []


def test_e001_missing_middleware(settings: Any) -> None:
    """Without the middleware: lantern.E001 naming MIDDLEWARE and how to add it."""
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    (message,) = checks.check_middleware()
    assert message.id == "lantern.E001" and message.level == django_checks.ERROR
    assert MIDDLEWARE in message.msg and "MIDDLEWARE" in message.msg
    assert "first entry of MIDDLEWARE" in message.hint


def test_w001_not_first(settings: Any) -> None:
    """The middleware after another one: lantern.W001 naming its position, what precedes it, and the fix."""
    settings.MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", MIDDLEWARE]
    (message,) = checks.check_middleware()
    assert message.id == "lantern.W001" and message.level == django_checks.WARNING
    assert "position 1" in message.msg and "django.middleware.security.SecurityMiddleware" in message.msg
    assert "Move it to the top" in message.hint


def test_first_is_fine(settings: Any) -> None:
    """First in MIDDLEWARE: no middleware message."""
    settings.MIDDLEWARE = [MIDDLEWARE, "django.middleware.common.CommonMiddleware"]
    assert checks.check_middleware() == []


def test_w002_filter_missing(settings: Any) -> None:
    """A LOGGING without the context filter on any handler: lantern.W002 naming LOGGING and the fix."""
    settings.LOGGING = {
        "version": 1,
        # Django 6 reconfigures logging on this change: keep the loggers enabled.
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["console"]},
    }
    (message,) = checks.check_logging_filter()
    assert message.id == "lantern.W002"
    assert "settings.LOGGING" in message.msg and "RequestContextFilter" in message.msg
    assert "build_logging_config()" in message.hint and "django_lantern.logging.RequestContextFilter" in message.hint


def test_w002_filter_defined_but_unused(settings: Any) -> None:
    """A filter that is defined but named by no handler still gives lantern.W002."""
    settings.LOGGING = {
        "version": 1,
        # Django 6 reconfigures logging on this change: keep the loggers enabled.
        "disable_existing_loggers": False,
        "filters": {"ctx": {"()": "django_lantern.logging.RequestContextFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler"}},
    }
    assert _ids(checks.check_logging_filter()) == ["lantern.W002"]


def test_filter_by_class_or_subclass_is_recognised(settings: Any) -> None:
    """The filter given as a class object, or a subclass path, satisfies W002."""
    from django_lantern.logging import RequestContextFilter

    settings.LOGGING = {
        "version": 1,
        # Django 6 reconfigures logging on this change: keep the loggers enabled.
        "disable_existing_loggers": False,
        "filters": {"ctx": {"()": RequestContextFilter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["ctx"]}},
    }
    assert checks.check_logging_filter() == []


def test_e002_bad_setting(settings: Any) -> None:
    """A bad LANTERN value: lantern.E002 naming the key, the value, what it must be, and the docs."""
    settings.LANTERN = {"READINESS_TIMEOUT": "soon", "TRUST_REQUEST_ID_HEADER": 1}
    messages = checks.check_settings()
    assert _ids(messages) == ["lantern.E002", "lantern.E002"]
    text = " ".join(m.msg for m in messages)
    assert "LANTERN['READINESS_TIMEOUT'] is 'soon'; it must be a number >= 0.001." in text
    assert "LANTERN['TRUST_REQUEST_ID_HEADER'] is 1; it must be True or False." in text
    assert all(m.hint == conf.SETTINGS_HINT and conf.DOCS_URL in m.hint for m in messages)


def test_e002_suggests_the_near_miss() -> None:
    """A misspelt key: lantern.E002 says which key was meant; a key like no other gets no guess."""
    _, errors = conf.build_settings({"METRIC_PATH": "/m", "metrics_path": "/m", "COLOUR": 1, 3: 4})
    assert "LANTERN['METRIC_PATH'] is not a django-lantern setting; did you mean 'METRICS_PATH'?" in errors
    assert "LANTERN['metrics_path'] is not a django-lantern setting; did you mean 'METRICS_PATH'?" in errors
    assert "LANTERN['COLOUR'] is not a django-lantern setting." in errors
    assert "LANTERN[3] is not a django-lantern setting." in errors


def test_hints_point_at_pages_of_the_site() -> None:
    """Every hint names a page of the documentation site by URL, never a path in this repository,
    and each page (and anchor) exists in docs/."""
    root = Path(__file__).resolve().parents[1]
    site_url = re.search(r"^site_url: (\S+)$", (root / "mkdocs.yml").read_text(), re.MULTILINE)
    assert site_url and site_url.group(1) == conf.DOCS_URL
    hints = [m.hint for m in vars(checks).values() if isinstance(m, checks.Message)] + [conf.SETTINGS_HINT]
    assert not [h for h in hints if "docs/" in h]
    for page, anchor in re.findall(re.escape(conf.DOCS_URL) + r"([\w-]+)/(?:#([\w-]+))?", " ".join(hints)):
        text = (root / "docs" / f"{page}.md").read_text()
        headings = {
            re.sub(r"[^\w\s-]", "", h).strip().lower().replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)
        }
        assert not anchor or anchor in headings, (page, anchor)


def test_checks_are_registered(settings: Any) -> None:
    """The checks run through Django's registry (``manage.py check``)."""
    settings.MIDDLEWARE = []
    settings.LANTERN = {"SLOW_REQUEST_MS": "x"}
    ids = _ids(django_checks.run_checks())
    assert "lantern.E001" in ids and "lantern.E002" in ids


@pytest.mark.parametrize(
    ("lantern", "named"),
    [
        ({"READINESS_CHECKS": ["nope.missing"]}, "READINESS_CHECKS"),
        ({"READINESS_CHECKS": ["django_lantern.request_id.MAX_LENGTH"]}, "READINESS_CHECKS"),
        ({"SCRUBBER_CLASS": "nope.Scrubber"}, "SCRUBBER_CLASS"),
        ({"SCRUBBER_CLASS": "django_lantern.health.checks.ReadinessCheck"}, "SCRUBBER_CLASS"),
        ({"SCRUB_EXTRA_PATTERNS": ["(unclosed"]}, "SCRUB_EXTRA_PATTERNS"),
        ({"TRACING_REQUEST_HOOK": "nope.hook"}, "TRACING_REQUEST_HOOK"),
        ({"TRACING_RESPONSE_HOOK": "django_lantern.request_id.MAX_LENGTH"}, "TRACING_RESPONSE_HOOK"),
    ],
)
def test_dotted_paths_that_do_not_resolve_are_lantern_e003(settings: Any, lantern: dict[str, Any], named: str) -> None:
    """A bad READINESS_CHECKS / SCRUBBER_CLASS / SCRUB_EXTRA_PATTERNS is lantern.E003 at check time, naming the key."""
    settings.LANTERN = lantern
    (message,) = checks.check_dotted_paths()
    assert message.id == "lantern.E003" and named in message.msg


def test_resolving_dotted_paths_pass(settings: Any) -> None:
    """The defaults and a real custom check give no lantern.E003."""
    settings.LANTERN = {"READINESS_CHECKS": ["django_lantern.health.checks.ReadinessCheck"]}
    assert checks.check_dotted_paths() == []


@pytest.mark.parametrize(
    ("value", "fixed"), [("HTTP_X_REQUEST_ID", "X-Request-Id"), ("http_x_correlation_id", "X-Correlation-Id")]
)
def test_e021_meta_form_request_id_header(settings: Any, value: str, fixed: str) -> None:
    """REQUEST_ID_HEADER in META form reads nothing: lantern.E021, whose hint gives the header name."""
    settings.LANTERN = {"REQUEST_ID_HEADER": value}
    (message,) = checks.check_request_id_header()
    assert message.id == "lantern.E021" and message.level == django_checks.ERROR
    assert value in message.msg and repr(fixed) in message.hint
    assert "lantern.E021" in _ids(django_checks.run_checks())


def test_e021_header_names_pass(settings: Any) -> None:
    """Header names (the default and a custom one) raise no lantern.E021."""
    for value in ("X-Request-Id", "X-Correlation-Id", None):
        settings.LANTERN = {} if value is None else {"REQUEST_ID_HEADER": value}
        assert checks.check_request_id_header() == []


def _file_logging(filename: str) -> dict[str, Any]:
    # Django 6 applies a changed LOGGING at once: keep the loggers other tests use.
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "file": {"class": "django_lantern.logging.handlers.SafeFileHandler", "filename": filename},
            "console": {"class": "logging.StreamHandler"},
        },
    }


def test_e020_log_file_in_a_missing_directory(settings: Any, tmp_path: Any) -> None:
    """A file handler pointed at a missing directory is lantern.E020 naming the handler and the directory."""
    missing = tmp_path / "no-such-dir"
    settings.LOGGING = _file_logging(str(missing / "app.log"))
    (message,) = checks.check_log_file_directories()
    assert message.id == "lantern.E020" and message.level == django_checks.ERROR
    assert "'file'" in message.msg and str(missing) in message.msg and "does not exist" in message.msg
    missing.mkdir()
    assert checks.check_log_file_directories() == []


def test_e020_log_file_in_a_read_only_directory(settings: Any, tmp_path: Any) -> None:
    """A directory the server cannot write to is lantern.E020 too (skipped as root, who can write anywhere)."""
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write to a read-only directory")
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        settings.LOGGING = _file_logging(str(locked / "app.log"))
        (message,) = checks.check_log_file_directories()
        assert "not writable" in message.msg
    finally:
        locked.chmod(0o700)
