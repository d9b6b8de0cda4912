"""System checks (``manage.py check``); every id is listed in docs/checks.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django.apps import AppConfig

MIDDLEWARE_PATH = "django_lantern.middleware.LanternMiddleware"
FILTER_PATH = "django_lantern.logging.RequestContextFilter"

E001_MISSING_MIDDLEWARE = (
    f"{MIDDLEWARE_PATH} is not in settings.MIDDLEWARE.",
    f'Add "{MIDDLEWARE_PATH}" as the first entry of MIDDLEWARE.',
)
E002_BAD_SETTING = "Invalid LANTERN setting: {message}"
E003_HINT = "Fix the dotted path (or the pattern) named in the message; see docs/configuration.md."
W001_NOT_FIRST = (
    f"{MIDDLEWARE_PATH} is at position {{position}} of MIDDLEWARE, after {{before}}.",
    "Move it to the top, so that probes bypass host checks and redirects, and every "
    "log line of every middleware carries the request id.",
)
W002_FILTER_MISSING = (
    "No handler in settings.LOGGING uses django_lantern's RequestContextFilter, "
    "so log lines will not carry request_id, user_id, method, path or route.",
    "Use LOGGING = build_logging_config() from django_lantern.logging, or add "
    f'{{"()": "{FILTER_PATH}"}} to LOGGING["filters"] and name it in each handler\'s "filters".',
)


@register(Tags.compatibility)
def check_middleware(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        msg, hint = E001_MISSING_MIDDLEWARE
        return [Error(msg, hint=hint, id="lantern.E001")]
    position = middleware.index(MIDDLEWARE_PATH)
    if position != 0:
        msg, hint = W001_NOT_FIRST
        return [Warning(msg.format(position=position, before=middleware[0]), hint=hint, id="lantern.W001")]
    return []


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    from django_lantern.conf import settings_errors

    return [
        Error(
            E002_BAD_SETTING.format(message=message),
            hint="See docs/configuration.md for every key, its type and its default.",
            id="lantern.E002",
        )
        for message in settings_errors()
    ]


def _is_context_filter(spec: object) -> bool:
    if not isinstance(spec, dict):
        return False
    factory = spec.get("()")
    if factory is None:
        return False
    if isinstance(factory, str):
        if factory in (FILTER_PATH, "django_lantern.logging.filters.RequestContextFilter"):
            return True
        try:
            factory = import_string(factory)
        except ImportError:
            return False
    from django_lantern.logging.filters import RequestContextFilter

    return isinstance(factory, type) and issubclass(factory, RequestContextFilter)


@register(Tags.compatibility)
def check_logging_filter(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    config = getattr(settings, "LOGGING", None) or {}
    filters = {name for name, spec in (config.get("filters") or {}).items() if _is_context_filter(spec)}
    handlers = config.get("handlers") or {}
    if any(set(h.get("filters") or ()) & filters for h in handlers.values() if isinstance(h, dict)):
        return []
    msg, hint = W002_FILTER_MISSING
    return [Warning(msg, hint=hint, id="lantern.W002")]


@register(Tags.compatibility)
def check_dotted_paths(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    """``READINESS_CHECKS``, ``SCRUBBER_CLASS`` and the tracing hooks resolve, built exactly as at run time.

    Without this a typo surfaces only as a 500 from ``/readyz`` or as logs
    scrubbed with the defaults instead of your scrubber.
    """
    from django.core.exceptions import ImproperlyConfigured

    from django_lantern.conf import settings_errors
    from django_lantern.health.registry import build_checks
    from django_lantern.scrubbing import build_scrubber
    from django_lantern.tracing_hooks import resolve_hooks

    if settings_errors():
        return []  # lantern.E002 already names the bad values
    messages: list[CheckMessage] = []
    for build in (build_checks, build_scrubber, resolve_hooks):
        try:
            build()
        except ImproperlyConfigured as exc:
            messages.append(Error(str(exc), hint=E003_HINT, id="lantern.E003"))
    return messages


W030_REPORTER = (
    "settings.{setting} is {value!r}, so Django's error reports (the admins' e-mail, the DEBUG "
    "technical 500 page) show {what} unscrubbed.",
    'Set {setting} = "{path}".',
)
_REPORTER_GAPS = {
    "DEFAULT_EXCEPTION_REPORTER_FILTER": "credentials in settings, POST fields, headers, cookies and frame locals",
    "DEFAULT_EXCEPTION_REPORTER": "the query string, the request URL and the exception message",
}


@register(Tags.security)
def check_exception_reporter(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    """Django's error reports go through the scrubber (``django_lantern.reporting``)."""
    from django_lantern import reporting

    expected = {
        "DEFAULT_EXCEPTION_REPORTER_FILTER": (reporting.FILTER_PATH, reporting.ScrubbingExceptionReporterFilter),
        "DEFAULT_EXCEPTION_REPORTER": (reporting.REPORTER_PATH, reporting.ScrubbingExceptionReporter),
    }
    messages: list[CheckMessage] = []
    msg, hint = W030_REPORTER
    for setting, (path, base) in expected.items():
        value = getattr(settings, setting, None)
        try:
            cls = import_string(value) if isinstance(value, str) else value
        except ImportError:
            cls = None  # Django itself fails on it; still say what to set
        if isinstance(cls, type) and issubclass(cls, base):
            continue
        messages.append(
            Warning(
                msg.format(setting=setting, value=value, what=_REPORTER_GAPS[setting]),
                hint=hint.format(setting=setting, path=path),
                id="lantern.W030",
            )
        )
    return messages


# -- logging and request ids (lantern.E020, lantern.E021) ---------------------
E020_LOG_DIRECTORY = "LOGGING handler {handler!r} writes to {filename!r}, but {problem}; its records would be lost."
E020_HINT = "Create the directory (writable by the server's user) or point the handler's 'filename' elsewhere."
E021_META_HEADER = (
    "LANTERN['REQUEST_ID_HEADER'] is {value!r}, which is the WSGI META key, not the header name: "
    "no request ever carries it, so every incoming id would be ignored."
)
E021_HINT = 'Write the HTTP header name: LANTERN["REQUEST_ID_HEADER"] = {fixed!r}.'


@register(Tags.compatibility)
def check_request_id_header(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    """``HTTP_X_REQUEST_ID`` (django-log-request-id's spelling) is a META key, not a header.

    Django derives ``HTTP_HTTP_X_REQUEST_ID`` from it, and servers drop
    headers with underscores, so it silently reads nothing.
    """
    value = (getattr(settings, "LANTERN", None) or {}).get("REQUEST_ID_HEADER")
    if not isinstance(value, str) or not value.upper().startswith("HTTP_"):
        return []
    fixed = "-".join(part.capitalize() for part in value[5:].split("_") if part) or "X-Request-Id"
    return [Error(E021_META_HEADER.format(value=value), hint=E021_HINT.format(fixed=fixed), id="lantern.E021")]


@register(Tags.compatibility)
def check_log_file_directories(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    """A file handler whose directory is missing or read-only loses every record, silently.

    ``SafeFileHandler`` opens its file lazily and counts failures instead of
    raising, so without this check the first sign is an empty log.
    """
    import os

    handlers = (getattr(settings, "LOGGING", None) or {}).get("handlers") or {}
    messages: list[CheckMessage] = []
    for name, spec in handlers.items():
        filename = spec.get("filename") if isinstance(spec, dict) else None
        if not isinstance(filename, (str, os.PathLike)):
            continue
        directory = os.path.dirname(os.path.abspath(filename))
        if not os.path.isdir(directory):
            problem = f"the directory {directory!r} does not exist"
        elif not os.access(directory, os.W_OK | os.X_OK) and not os.access(filename, os.W_OK):
            problem = f"the directory {directory!r} is not writable"
        else:
            continue
        msg = E020_LOG_DIRECTORY.format(handler=name, filename=os.fspath(filename), problem=problem)
        messages.append(Error(msg, hint=E020_HINT, id="lantern.E020"))
    return messages
