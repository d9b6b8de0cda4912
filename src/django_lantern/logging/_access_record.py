"""The access record: a ``logging.LogRecord`` whose fields are the single source.

The middleware knows everything about the line in advance (method, path,
route, status, duration, user, client address, request and trace ids), so the
record is built in place with those fields set as typed attributes: no caller
lookup (``findCaller`` walks the stack on every ``logger.log``), and the context
filter finds its work already done. The message, for text formatters,
``assertLogs`` and any handler of the user's, is rendered from the same fields;
the JSON formatters read the fields and render the message again from the
scrubbed ``path`` (see ``formatters._BaseFormatter.fields``), never parsing it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from typing import Any

from django_lantern.context import UNKNOWN
from django_lantern.logging._escape import is_bare, logfmt_value

__all__ = ["AccessRecord", "access_line"]

# How many characters of the method a line shows; an extension method is client text.
METHOD_LIMIT = 32
USER_ID_LIMIT = 64
# An int user id shorter than the cap is written as it is (``10**60`` is not
# folded into a constant by the compiler, so it is computed here once).
_SHORT_INT = 10**60


def access_line(method: object, path: object, status: object, duration_ms: float, user_id: object, limit: int) -> str:
    """The chapter's ``key=value`` access line; every value is escaped, the path cut at ``limit``.

    ``user_id`` is ``None`` (shown ``None``, as the chapter's line has it) when unknown.
    """
    # Most values are plain (a method, an ASCII path, an int status): written as
    # they are after one regex test, without ``logfmt_value``'s general work.
    if not (type(method) is str and len(method) <= METHOD_LIMIT and is_bare(method)):
        method = logfmt_value(method, METHOD_LIMIT)
    if not (type(path) is str and len(path) <= limit and is_bare(path)):
        path = logfmt_value(path, limit)
    status = status if type(status) is int else logfmt_value(status, 16)
    if user_id is not None and not (type(user_id) is int and -_SHORT_INT < user_id < _SHORT_INT):
        user_id = logfmt_value(user_id, USER_ID_LIMIT)
    return f"method={method} path={path} status={status} duration_ms={duration_ms:.2f} user_id={user_id}"


# The standard attributes of a record, as ``LogRecord.__init__`` sets them on
# this Python; the access record sets the same ones itself (see ``_standard``).
_STOCK_KEYS = frozenset(logging.LogRecord("x", logging.INFO, __file__, 0, "", None, None, "f").__dict__)
_OWN_KEYS = frozenset(
    {"name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info", "exc_text"}
    | {"stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread", "threadName"}
    | {"processName", "process", "taskName"}
)
# A Python that adds an attribute we do not know gets the standard constructor.
_OWN_INIT = _STOCK_KEYS <= _OWN_KEYS
_HAS_TASK_NAME = "taskName" in _STOCK_KEYS
# Python 3.13 takes record times from ``time.time_ns()`` (its ``_startTime`` is
# an int), earlier versions from ``time.time()``; the two round differently.
_NS_CLOCK = isinstance(getattr(logging, "_startTime", None), int)


def _clock() -> tuple[float, float, float]:
    """``created``, ``msecs`` and ``relativeCreated``, computed as this Python's ``LogRecord`` does."""
    start = logging._startTime  # type: ignore[attr-defined]
    if _NS_CLOCK:
        ns = time.time_ns()
        created = ns / 1e9
        msecs = (ns % 1_000_000_000) // 1_000_000 + 0.0
        if msecs == 999.0 and int(created) != ns // 1_000_000_000:
            msecs = 0.0  # the float rounded up into the next second
        return created, msecs, (ns - start) / 1e6
    now = time.time()
    return now, int((now - int(now)) * 1000) + 0.0, (now - start) * 1000


@functools.cache
def _source(pathname: str) -> tuple[str, str]:
    filename = os.path.basename(pathname)
    return filename, os.path.splitext(filename)[0]


def _process_name() -> str | None:
    if not logging.logMultiprocessing:
        return None
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return "MainProcess"
    try:
        return str(mp.current_process().name)
    except Exception:
        return "MainProcess"


def _task_name() -> str | None:
    # LogRecord asks ``asyncio.current_task()`` and catches the RuntimeError it
    # raises outside an event loop, which is every WSGI request: asking for the
    # running loop first gives the same answer without the exception.
    if not getattr(logging, "logAsyncioTasks", True):
        return None
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or asyncio.events._get_running_loop() is None:
        return None
    try:
        return str(asyncio.current_task().get_name())
    except Exception:
        return None


def _standard(name: str, level: int, pathname: str, exc_info: Any, func: str) -> dict[str, Any]:
    """The standard attributes of a record logged from ``pathname`` (line unknown), with no
    args; all but ``msg``, which ``AccessRecord`` renders when it is first read."""
    created, msecs, relative = _clock()
    filename, module = _source(pathname)
    threads = logging.logThreads
    attrs: dict[str, Any] = {
        "name": name,
        "args": None,
        "levelname": logging.getLevelName(level),
        "levelno": level,
        "pathname": pathname,
        "filename": filename,
        "module": module,
        "exc_info": exc_info,
        "exc_text": None,
        "stack_info": None,
        "lineno": 0,
        "funcName": func,
        "created": created,
        "msecs": msecs,
        "relativeCreated": relative,
        "thread": threading.get_ident() if threads else None,
        "threadName": threading.current_thread().name if threads else None,
        "processName": _process_name(),
        "process": os.getpid() if logging.logProcesses else None,
    }
    if _HAS_TASK_NAME:
        attrs["taskName"] = _task_name()
    return attrs


class _LineOnFirstRead:
    """``AccessRecord.msg``: the access line, rendered from the record's fields the
    first time anything reads it, then kept as a plain attribute.

    The JSON formatters never read it (they render the line from the scrubbed
    fields), so for them the record skips the work; a text handler, ``assertLogs``
    or ``getMessage()`` sees the same line an eager record would have held.
    """

    def __get__(self, record: logging.LogRecord | None, owner: type | None = None) -> Any:
        if record is None:
            return self
        attrs = record.__dict__
        user_id = attrs["user_id"]
        line = access_line(
            attrs["method"],
            attrs["path"],
            attrs["status"],
            attrs["duration_ms"],
            None if user_id == UNKNOWN else user_id,
            attrs["lantern_message_limit"],
        )
        attrs["msg"] = line  # an instance attribute: found before this descriptor from now on
        return line


class AccessRecord(logging.LogRecord):
    """One request's access record. A normal ``LogRecord`` (handlers, filters and
    formatters written for the standard library keep working); its ``msg`` is
    the rendered line (see ``_LineOnFirstRead``) and it has no ``args``."""

    msg = _LineOnFirstRead()

    def __init__(
        self,
        name: str,
        level: int,
        *,
        request_id: str,
        method: str,
        path: str,
        route: str,
        status: int,
        duration_ms: float,
        user_id: Any,
        client_ip: str | None,
        trace_id: str = UNKNOWN,
        span_id: str = UNKNOWN,
        path_limit: int = 4096,
        error: BaseException | None = None,
        origin: str = __file__,
    ) -> None:
        exc_info = (type(error), error, error.__traceback__) if error is not None else None
        # Where the line comes from is known (``origin``, the writer's module):
        # no stack walk to find it, and its file and module names are worked out once.
        if _OWN_INIT:
            attrs = _standard(name, level, origin, exc_info, "write")
            self.__dict__ = attrs
        else:  # pragma: no cover - a Python whose LogRecord has attributes we do not know
            message = access_line(method, path, status, duration_ms, user_id, path_limit)
            super().__init__(name, level, origin, 0, message, None, exc_info, "write")
            attrs = self.__dict__
        # The context fields, as ``RequestContextFilter`` would have set them.
        attrs["request_id"] = request_id
        attrs["user_id"] = UNKNOWN if user_id is None else user_id
        attrs["method"] = method
        attrs["path"] = path
        attrs["route"] = route
        attrs["trace_id"] = trace_id
        attrs["span_id"] = span_id
        # The access fields, typed: what the JSON formatters read.
        attrs["status"] = status
        attrs["duration_ms"] = round(duration_ms, 2)
        attrs["client_ip"] = client_ip
        attrs["lantern_access"] = True
        attrs["lantern_message_limit"] = path_limit  # how much of the path ``msg`` shows
