"""``build_logging_config()``: a complete ``LOGGING`` dict in one call."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FILTER_PATH = "django_lantern.logging.RequestContextFilter"


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
) -> dict[str, Any]:
    """A ``LOGGING`` dict: one console handler with the request-context filter.

    - level: ``level`` argument, else ``DJANGO_LOG_LEVEL``, else ``INFO``.
    - format: ``log_format`` argument, else ``LANTERN_LOG_FORMAT``, else
      ``text`` when ``debug`` is true and ``json`` otherwise.
    - the access logger writes to the same handler with ``propagate`` off, so
      each access line appears once.
    - handler: ``SafeStreamHandler`` (a write failure is counted, never printed
      or raised; a blocked stdout blocks the writer, as the standard handler
      does). With ``nonblocking`` (or ``LANTERN_LOG_NONBLOCKING=1``) lines go
      through a bounded queue to one writer thread and are dropped and counted
      when it is full, so requests never wait on the log sink. See
      docs/reliability.md for the trade-off.
    """
    chosen_level = _level(level if level is not None else os.environ.get("DJANGO_LOG_LEVEL"), "DJANGO_LOG_LEVEL")
    env_format = os.environ.get("LANTERN_LOG_FORMAT")
    chosen_format = (log_format or env_format or ("text" if debug else "json")).strip().lower()
    if chosen_format not in FORMATS:
        raise ImproperlyConfigured(f"LANTERN_LOG_FORMAT is {log_format or env_format!r}; it must be 'json' or 'text'.")
    access = _level(access_level, "access_level")
    if nonblocking is None:
        flag = os.environ.get("LANTERN_LOG_NONBLOCKING", "0").strip()
        if flag not in ("0", "1", ""):
            raise ImproperlyConfigured(f"LANTERN_LOG_NONBLOCKING is {flag!r}; it must be '0' or '1'.")
        nonblocking = flag == "1"
    handler_class = "NonBlockingStreamHandler" if nonblocking else "SafeStreamHandler"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": FILTER_PATH}},
        "formatters": {
            "json": {"()": "django_lantern.logging.JsonFormatter"},
            "text": {"()": "django_lantern.logging.TextFormatter"},
        },
        "handlers": {
            "console": {
                "class": f"django_lantern.logging.handlers.{handler_class}",
                "stream": stream,
                "formatter": chosen_format,
                "filters": ["request_context"],
            },
        },
        "root": {"handlers": ["console"], "level": chosen_level},
        "loggers": {
            # Django's own loggers propagate to root; its default handlers
            # (mail_admins, the runserver console) are replaced by ours.
            "django": {"handlers": [], "level": chosen_level, "propagate": True},
            "django.server": {"handlers": [], "level": chosen_level, "propagate": True},
            access_logger: {"handlers": ["console"], "level": access, "propagate": False},
        },
    }
