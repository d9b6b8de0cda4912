"""``build_logging_config()``: a complete ``LOGGING`` dict in one call."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_lantern.logging.schemas import FORMATTERS, chosen_format

__all__ = ["build_logging_config"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FILTER_PATH = "django_lantern.logging.RequestContextFilter"
SKIP_HEALTHY_PROBES = "django_lantern.logging.filters.SkipHealthyProbes"
SKIP_CLIENT_ERRORS = "django_lantern.logging.filters.SkipClientErrorRequestLines"
SKIP_RUNSERVER_LINES = "django_lantern.logging.servers.SkipRunserverRequestLines"
REPEATED_ERRORS_PATH = "django_lantern.logging.filters.RepeatedErrorFilter"


def _level(value: str | None, source: str) -> str:
    level = (value or "INFO").strip().upper()
    if level not in LEVELS:
        raise ImproperlyConfigured(
            f"{source} is {value!r}; it must be one of {', '.join(LEVELS)} (for example DJANGO_LOG_LEVEL=INFO)."
        )
    return level


def build_logging_config(
    *,
    debug: bool = False,
    level: str | None = None,
    log_format: str | None = None,
    access_logger: str = "access",
    access_level: str = "INFO",
    stream: str = "ext://sys.stdout",
    nonblocking: bool | None = None,
    field_map: dict[str, str | None] | None = None,
    formatter_options: dict[str, Any] | None = None,
    server_loggers: bool = True,
    mail_admins: bool = True,
    repeated_error_interval: float = 60.0,
) -> dict[str, Any]:
    """A ``LOGGING`` dict: one console handler with the request-context filter.

    - level: ``level`` argument, else ``DJANGO_LOG_LEVEL``, else ``INFO``.
    - format: ``log_format`` argument, else ``LANTERN_LOG_FORMAT``, else
      ``text`` when ``debug`` is true and ``json`` otherwise.
    - the access logger writes to the same handler with ``propagate`` off, so
      each access line appears once. The handler leaves out healthy probes
      (``SkipHealthyProbes``: ``/healthz`` and ``/readyz`` answered 2xx/3xx
      faster than ``LANTERN["SLOW_PROBE_MS"]``); failing and slow ones are written.
    - handler: ``NonBlockingStreamHandler``: each line is formatted in the
      caller's thread and written by one writer thread through a bounded
      queue; when the sink stalls (a full pipe) the queue fills and further
      lines are dropped and counted (``lantern_log_records_dropped_total``,
      and one WARNING line where the gap is), so no request, probe or server
      loop waits on the log sink; at a normal exit the queue is flushed.
      ``nonblocking=False`` (or ``LANTERN_LOG_NONBLOCKING=0``) writes in the
      caller's thread instead (``SafeStreamHandler``): nothing is dropped,
      and a stalled sink stalls the app. See docs/reliability.md for the
      trade-off.
    - ``log_format`` may also be ``ecs``, ``gcp`` or ``datadog`` (vendor field
      names, docs/logging.md); ``field_map`` renames fields of any JSON
      schema; ``formatter_options`` go to the formatter (``service_name``
      for ecs, ``project`` for gcp).
    - ``server_loggers``: gunicorn's and uvicorn's own loggers write through
      the same handler and format, and their access logs are off (ours is the
      one line per request); runserver's per-request ``django.server`` line is
      dropped for the same reason.
    - ``django.request``'s WARNING for a 4xx response is dropped too (the
      access line records it, with the request id); its 5xx ERRORs stay, for
      the admins' e-mail and error trackers.
    - ``mail_admins`` (default on): Django's ``AdminEmailHandler`` stays on the
      ``django`` logger, as in Django's own default, so a project with
      ``ADMINS`` still gets its error e-mails (with ``DEBUG`` off; without
      ``ADMINS`` it does nothing). It is Django's handler reporting through
      ``django_lantern.reporting.ScrubbingExceptionReporter``. ``False`` drops it.
    - ``repeated_error_interval`` (seconds, default 60): the stack of one
      error repeated (same type, route and frames) is written at most once
      per interval; the identical records in between are folded, counted, and
      the next full line says how many (``folded``). ``0`` writes every one.
      Access lines and metrics are not affected (docs/logging.md).
    """
    chosen_level = _level(level if level is not None else os.environ.get("DJANGO_LOG_LEVEL"), "DJANGO_LOG_LEVEL")
    format_name = chosen_format(log_format, debug=debug)
    access = _level(access_level, "access_level")
    handler_class = "NonBlockingStreamHandler" if _nonblocking(nonblocking) else "SafeStreamHandler"
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_context": {"()": FILTER_PATH},
            "skip_healthy_probes": {"()": SKIP_HEALTHY_PROBES},
            "skip_client_error_request_lines": {"()": SKIP_CLIENT_ERRORS},
        },
        "formatters": {format_name: formatter_entry(format_name, field_map, formatter_options)},
        "handlers": {
            "console": {
                "class": f"django_lantern.logging.handlers.{handler_class}",
                "stream": stream,
                "formatter": format_name,
                "filters": ["skip_healthy_probes", "request_context"],
            },
        },
        "root": {"handlers": ["console"], "level": chosen_level},
        "loggers": {
            # Django's own loggers propagate to root; its runserver console
            # handler is replaced by ours, its mail_admins kept (below).
            "django": {"handlers": [], "level": chosen_level, "propagate": True},
            "django.server": {"handlers": [], "level": chosen_level, "propagate": True},
            # Its 4xx WARNINGs repeat the access line; its 5xx ERRORs stay.
            "django.request": {"handlers": [], "propagate": True, "filters": ["skip_client_error_request_lines"]},
            access_logger: {"handlers": ["console"], "level": access, "propagate": False},
            # Python warnings (a library's UserWarning at start-up) become
            # records of this logger once LanternConfig.ready() turns capture
            # on, so in JSON mode they are JSON lines too, not raw stderr text.
            "py.warnings": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }
    if server_loggers:
        add_server_loggers(config)
    if mail_admins:
        _add_mail_admins(config)
    _add_repeated_errors(config, repeated_error_interval)
    return config


def _add_repeated_errors(config: dict[str, Any], interval: float) -> None:
    """The console handler folds repeated errors (``RepeatedErrorFilter``), after the context filter."""
    if interval < 0:
        raise ImproperlyConfigured(f"repeated_error_interval is {interval!r}; it must be 0 (off) or more seconds.")
    if interval > 0:
        config["filters"]["repeated_errors"] = {"()": REPEATED_ERRORS_PATH, "interval": interval}
        config["handlers"]["console"]["filters"].append("repeated_errors")


def _nonblocking(chosen: bool | None) -> bool:
    """The ``nonblocking`` argument, else ``LANTERN_LOG_NONBLOCKING`` (``0`` or ``1``), else on."""
    if chosen is not None:
        return chosen
    flag = os.environ.get("LANTERN_LOG_NONBLOCKING", "1").strip()
    if flag not in ("0", "1", ""):
        raise ImproperlyConfigured(f"LANTERN_LOG_NONBLOCKING is {flag!r}; it must be '0' or '1'.")
    return flag != "0"


def _add_mail_admins(config: dict[str, Any]) -> None:
    """Django's ``AdminEmailHandler`` on the ``django`` logger, reporting through the scrubber."""
    config["filters"]["require_debug_false"] = {"()": "django.utils.log.RequireDebugFalse"}
    config["handlers"]["mail_admins"] = {
        "level": "ERROR",
        "filters": ["require_debug_false"],
        "class": "django_lantern.reporting.ScrubbingAdminEmailHandler",
    }
    config["loggers"]["django"]["handlers"] = ["mail_admins"]


def formatter_entry(
    format_name: str, field_map: dict[str, str | None] | None, options: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``dictConfig`` formatter entry for a format name."""
    if format_name == "text":
        if field_map:
            raise ImproperlyConfigured("field_map applies to the JSON formats; LANTERN_LOG_FORMAT is 'text'.")
        return {"()": FORMATTERS["text"], **(options or {})}
    path = FORMATTERS[format_name]
    if format_name == "json" and field_map:
        path = "django_lantern.logging.schemas.SchemaFormatter"
    entry: dict[str, Any] = {"()": path, **(options or {})}
    if field_map:
        entry["field_map"] = dict(field_map)
    return entry


def add_server_loggers(config: dict[str, Any]) -> None:
    """Route gunicorn's and uvicorn's loggers to ``config``'s console handler."""
    config["handlers"]["lantern_discard"] = {"class": "logging.NullHandler"}
    config["filters"]["skip_runserver_request_lines"] = {"()": SKIP_RUNSERVER_LINES}
    loggers = config["loggers"]
    # No "level": the server's --log-level keeps deciding how much it says.
    loggers["gunicorn.error"] = {"handlers": ["console"], "propagate": False}
    loggers["uvicorn"] = {"handlers": ["console"], "propagate": False}
    loggers["uvicorn.error"] = {"handlers": [], "propagate": True}
    # The servers' access logs would be a second, id-less line per request.
    loggers["gunicorn.access"] = {"handlers": ["lantern_discard"], "propagate": False}
    loggers["uvicorn.access"] = {"handlers": ["lantern_discard"], "propagate": False}
    loggers.setdefault("django.server", {})["filters"] = ["skip_runserver_request_lines"]
