"""Server logs in the app's format: gunicorn, uvicorn and runserver.

In JSON mode every stdout line of a deployed process must be JSON, or the log
pipeline files gunicorn's start-up, worker and error lines as unparsed text.
The servers log through the standard ``logging`` module, on loggers of their
own; ``build_logging_config()`` (``_config.py``) routes those loggers to our
handler and formatter and turns off the servers' own access logs, since
``LanternMiddleware`` writes the one access line per request. This module
hands that config to the servers.

- gunicorn: ``logconfig_dict = gunicorn_logconfig_dict()`` in ``gunicorn.conf.py``
  (applied by the arbiter before any worker starts), or, with no config file,
  ``--log-config-json`` and the same JSON file as uvicorn's.
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

from django_lantern.logging._config import build_logging_config
from django_lantern.logging.formatters import JsonFormatter

__all__ = ["SkipRunserverRequestLines", "gunicorn_logconfig_dict", "uvicorn_log_config"]

# What a master given no logging configuration writes in its own text format, and the one flag that fixes it.
_MASTER_LINES = {
    "gunicorn": ("gunicorn.error", "Starting gunicorn, Booting worker, Handling signal", "--log-config-json"),
    "uvicorn": ("uvicorn", "Started parent process, Waiting for child process", "--log-config"),
}

UVICORN_LOG_CONFIG = Path(__file__).with_name("uvicorn.json")

# runserver's per-request line (``WSGIRequestHandler.log_request``): the
# access record already says it, with the request id.
RUNSERVER_REQUEST_FORMAT = '"%s" %s %s'


class SkipRunserverRequestLines(logging.Filter):
    """Drops runserver's per-request ``django.server`` line; keeps its other messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != RUNSERVER_REQUEST_FORMAT


def gunicorn_logconfig_dict(**options: Any) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: the same config as Django's ``LOGGING``.

    Takes ``build_logging_config()``'s arguments (pass the same ``debug`` as
    your settings so the arbiter and the workers choose the same format).
    """
    # Before Django loads there is no ADMINS to mail; Django's LOGGING adds it in the workers.
    options.setdefault("mail_admins", False)
    return build_logging_config(**options)


def uvicorn_log_config(**options: Any) -> dict[str, Any]:
    """uvicorn's ``log_config`` for ``uvicorn.run()``: the same config as Django's ``LOGGING``."""
    options.setdefault("mail_admins", False)  # as for gunicorn, above
    return build_logging_config(**options)


def master_text_lines(server: str) -> str | None:
    """A warning for a worker whose app logs JSON while its ``server`` master logs text, or None.

    Called only when the master was given no logging configuration; the
    worker's own ``LOGGING`` tells whether the app wants JSON (a text app
    and a text master agree).
    """
    logger_name, lines, flag = _MASTER_LINES[server]
    if not any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger(logger_name).handlers):
        return None
    return (
        f"{server}'s master writes its own lines ({lines}) as text, not JSON: it logs before Django loads "
        f'and was given no logging configuration. Start it with {flag} "$(python -m '
        f'django_lantern.logging.servers {server}-config)" (docs/logging.md, server logs).'
    )


def main(argv: list[str]) -> int:
    """``python -m django_lantern.logging.servers gunicorn-config|uvicorn-config``: print the file's path.

    One file for both: it configures gunicorn's loggers and uvicorn's.
    """
    if argv[1:] in (["gunicorn-config"], ["uvicorn-config"]):
        print(UVICORN_LOG_CONFIG)
        return 0
    print("usage: python -m django_lantern.logging.servers gunicorn-config|uvicorn-config", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    raise SystemExit(main(sys.argv))
