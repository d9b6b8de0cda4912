"""The parts of a log line every formatter shares: the message (safely), the
timestamp, the exception fields, and the count of a record that failed.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback

from django_lantern._errors import report_internal_error
from django_lantern.logging.handlers import ERRORS, _count

# The ``level`` field: lower case, as the JSON schemas of log platforms expect.
LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


def safe_message(record: logging.LogRecord) -> str:
    """``record.getMessage()``, or a clear marker when the arguments do not fit.

    The raw arguments are never shown: they are what a broken call site was
    trying to format and may hold anything.
    """
    try:
        return record.getMessage()
    except Exception:
        try:
            template = str(record.msg)
        except Exception:
            template = "<unprintable message>"
        return f"{template} [lantern: message arguments could not be formatted]"


def rfc3339(created: float) -> str:
    """``2026-11-24T10:00:00.123Z``: RFC 3339, UTC, millisecond precision."""
    seconds = int(created)
    last_second, text = _last_second
    if last_second != seconds:
        text = _date_and_time(seconds)
    return f"{text}.{_MILLISECONDS[int((created - seconds) * 1000)]}Z"


def _date_and_time(seconds: int) -> str:
    # Formatted once per second: records arrive in bursts within the same second.
    global _last_second
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    _last_second = (seconds, text)  # one tuple: a thread reads the second and its text together
    return text


_last_second = (0, _date_and_time(0))
# The milliseconds as ``f"{n:03d}"`` writes them, looked up rather than formatted on every
# line: from -999 (a time before 1970) to 1000 (a fraction of a second that rounds up).
_MILLISECONDS = {n: f"{n:03d}" for n in range(-999, 1001)}


def _count_failure(where: str, exc: BaseException) -> None:
    """Count (and log once) a record that could not be formatted as it was.

    Counted as a log error too (``lantern_log_errors_total``): the handler's
    ``handleError`` never sees a failure the formatter absorbed. The
    internal-error log goes through the same handlers; if it fails too,
    ``report_internal_error`` only counts the second failure, so this cannot loop.
    """
    with contextlib.suppress(Exception):
        _count(ERRORS)
    with contextlib.suppress(Exception):
        report_internal_error(where, exc)


def unrenderable(value: object) -> str:
    """What a field shows when its value could not be rendered: the type, never the value."""
    try:
        name = type(value).__qualname__
    except Exception:
        name = "object"
    return f"<unrenderable {name[:100]}>"


def _exception_fields(record: logging.LogRecord) -> dict[str, str]:
    exc_info = record.exc_info
    if not exc_info or exc_info[0] is None:
        return {}
    exc_type, exc, tb = exc_info
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable exception>"
    try:
        stack = "".join(traceback.format_exception(exc_type, exc, tb))
    except Exception:
        stack = "<traceback unavailable>"
    return {
        "exc_type": getattr(exc_type, "__qualname__", str(exc_type)),
        "exc_message": message,
        "stack": stack,
    }
