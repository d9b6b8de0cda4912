"""Server logs in the app's format: gunicorn, uvicorn and runserver.

In JSON mode every stdout line of a deployed process must be JSON, or the log
pipeline files gunicorn's start-up, worker and error lines as unparsed text.
The servers log through the standard ``logging`` module, on loggers of their
own; this module routes those loggers to our handler and formatter and turns
off the servers' own access logs, since ``LanternMiddleware`` writes the one
access line per request.

- gunicorn: ``logconfig_dict = gunicorn_logconfig_dict()`` in ``gunicorn.conf.py``
  (applied by the arbiter before any worker starts).
- uvicorn: ``uvicorn --log-config <UVICORN_LOG_CONFIG>`` (the JSON file shipped
  here; its formatter follows ``LANTERN_LOG_FORMAT``), or
  ``uvicorn.run(..., log_config=uvicorn_log_config())``.
- Django's own ``LOGGING`` from ``build_logging_config()`` configures the same
  loggers, so whatever the server set up is replaced once Django starts.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

__all__ = ["SkipRunserverRequestLines", "gunicorn_logconfig_dict", "uvicorn_log_config"]

UVICORN_LOG_CONFIG = Path(__file__).with_name("uvicorn.json")

# runserver's per-request line (``WSGIRequestHandler.log_request``): the
# access record already says it, with the request id.
RUNSERVER_REQUEST_FORMAT = '"%s" %s %s'


class SkipRunserverRequestLines(logging.Filter):
    """Drops runserver's per-request ``django.server`` line; keeps its other messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != RUNSERVER_REQUEST_FORMAT


def formatter_entry(
    format_name: str, field_map: dict[str, str | None] | None, options: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``dictConfig`` formatter entry for a format name."""
    from django_lantern.logging.schemas import FORMATTERS

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
    config["filters"]["skip_runserver_request_lines"] = {"()": f"{__name__}.SkipRunserverRequestLines"}
    loggers = config["loggers"]
    # No "level": the server's --log-level keeps deciding how much it says.
    loggers["gunicorn.error"] = {"handlers": ["console"], "propagate": False}
    loggers["uvicorn"] = {"handlers": ["console"], "propagate": False}
    loggers["uvicorn.error"] = {"handlers": [], "propagate": True}
    # The servers' access logs would be a second, id-less line per request.
    loggers["gunicorn.access"] = {"handlers": ["lantern_discard"], "propagate": False}
    loggers["uvicorn.access"] = {"handlers": ["lantern_discard"], "propagate": False}
    loggers.setdefault("django.server", {})["filters"] = ["skip_runserver_request_lines"]


def gunicorn_logconfig_dict(**options: Any) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: the same config as Django's ``LOGGING``.

    Takes ``build_logging_config()``'s arguments (pass the same ``debug`` as
    your settings so the arbiter and the workers choose the same format).
    """
    from django_lantern.logging._config import build_logging_config

    # Before Django loads there is no ADMINS to mail; Django's LOGGING adds it in the workers.
    options.setdefault("mail_admins", False)
    return build_logging_config(**options)


def uvicorn_log_config(**options: Any) -> dict[str, Any]:
    """uvicorn's ``log_config`` for ``uvicorn.run()``: the same config as Django's ``LOGGING``."""
    from django_lantern.logging._config import build_logging_config

    options.setdefault("mail_admins", False)  # as for gunicorn, above
    return build_logging_config(**options)


def main(argv: list[str]) -> int:
    """``python -m django_lantern.logging.servers uvicorn-config``: print the file's path."""
    if argv[1:] == ["uvicorn-config"]:
        print(UVICORN_LOG_CONFIG)
        return 0
    print("usage: python -m django_lantern.logging.servers uvicorn-config", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    raise SystemExit(main(sys.argv))
