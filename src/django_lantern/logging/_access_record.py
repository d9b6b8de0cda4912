"""The access record: the logger's own record, with the line's fields set on it, typed.

The record comes from ``Logger.makeRecord`` (so a factory installed with
``logging.setLogRecordFactory`` or a ``Logger`` subclass is honoured); the
middleware knows where the line comes from, so no caller lookup is run
(``findCaller`` walks the stack on every ``logger.log``). The fields are set as
typed attributes, which the context filter finds already there and the JSON
formatters read directly (``_access_fields.py``). The record carries the
explicit marker ``lantern_access = True``.

The message is an :class:`AccessLine`, an object whose ``str()`` is the line
(the standard library's "arbitrary object as message"): ``getMessage()``,
a text handler or ``assertLogs`` see the line, and the JSON formatters, which
render it again from the scrubbed fields, never pay for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from django_lantern._cost import COST_FIELDS, Cost
from django_lantern.context import UNKNOWN
from django_lantern.logging._escape import is_bare, logfmt_value

__all__ = [
    "ACCESS_KEYS",
    "MARKER",
    "AccessEvent",
    "AccessLine",
    "HealthyProbeLine",
    "access_line",
    "access_line_head",
    "access_message",
    "created_now",
    "make_access_record",
    "origin_file",
    "set_access_fields",
]

# The attribute that tells an access record from any other.
MARKER = "lantern_access"
# What the access record sets beyond the standard attributes: the context
# fields, the access fields, what the request cost (``_cost.py``), and the marker.
ACCESS_KEYS = frozenset(
    {"request_id", "user_id", "method", "path", "route", "trace_id", "span_id"}
    | {"status", "duration_ms", "client_ip", MARKER}
    | set(COST_FIELDS)
)


# How many characters of the method a line shows; an extension method is client text.
METHOD_LIMIT = 32
USER_ID_LIMIT = 64
# An int user id shorter than the cap is written as it is (``10**60`` is not
# folded into a constant by the compiler, so it is computed here once).
_SHORT_INT = 10**60


def access_line(method: object, path: object, status: object, duration_ms: float, user_id: object, limit: int) -> str:
    """The chapter's ``key=value`` access line; every value is escaped, the path cut at ``limit``.

    ``user_id`` is ``None`` (shown ``None``, as the chapter's line has it) when unknown.
    The one place the line is rendered: the record's message and every formatter call it.
    """
    status = status if type(status) is int else logfmt_value(status, 16)
    if user_id is not None and not (type(user_id) is int and -_SHORT_INT < user_id < _SHORT_INT):
        user_id = logfmt_value(user_id, USER_ID_LIMIT)
    return f"{access_line_head(method, path, limit)} status={status} duration_ms={duration_ms:.2f} user_id={user_id}"


def access_line_head(method: object, path: object, limit: int) -> str:
    """The start of the access line, ``method=... path=...``: what repeats from one request to the next."""
    # Most values are plain (a method, an ASCII path): written as they are
    # after one regex test, without ``logfmt_value``'s general work.
    if not (type(method) is str and len(method) <= METHOD_LIMIT and is_bare(method)):
        method = logfmt_value(method, METHOD_LIMIT)
    if not (type(path) is str and len(path) <= limit and is_bare(path)):
        path = logfmt_value(path, limit)
    return f"method={method} path={path}"


class AccessLine:
    """An access record's message: ``str()`` renders the line from the values it was made with."""

    __slots__ = ("duration_ms", "limit", "method", "path", "status", "user_id")

    def __init__(self, method: str, path: str, status: int, duration_ms: float, user_id: Any, limit: int) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.duration_ms = duration_ms
        self.user_id = user_id
        self.limit = limit

    def __str__(self) -> str:
        return access_line(self.method, self.path, self.status, self.duration_ms, self.user_id, self.limit)

    def __repr__(self) -> str:
        return repr(str(self))


class HealthyProbeLine(AccessLine):
    """The message of a healthy probe's access line (``_access_log.healthy_probe``).

    The type is the mark ``SkipHealthyProbes`` looks for: an attribute on the
    record would take it off the formatters' fast path (``_access_fields.py``).
    """

    __slots__ = ()


def access_message(
    method: str, path: str, status: int, duration_ms: float, user_id: Any, limit: int, healthy_probe: bool = False
) -> AccessLine:
    """The message of an access line; ``user_id`` None or ``"-"`` when unknown (shown ``None``);
    a ``HealthyProbeLine`` for ``healthy_probe``."""
    shown = None if user_id is None or user_id == UNKNOWN else user_id
    line_class = HealthyProbeLine if healthy_probe else AccessLine
    return line_class(method, path, status, duration_ms, shown, limit)


def make_access_record(
    logger: logging.Logger,
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
    line_limit: int = 4096,
    error: BaseException | None = None,
    origin: str = __file__,
    healthy_probe: bool = False,
    cost: Cost | None = None,
) -> logging.LogRecord:
    """One request's access record on ``logger``, from ``origin`` (the writer's module), function ``write``.

    ``user_id`` is None when unknown; ``line_limit`` is how much of the path the message shows;
    ``healthy_probe`` makes the message a ``HealthyProbeLine``; ``cost`` is what it cost
    (None: not known, every count 0).
    """
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    message = access_message(method, path, status, duration_ms, user_id, line_limit, healthy_probe)
    # ``args`` None: the message is complete and takes none (typeshed asks for a tuple).
    record = logger.makeRecord(logger.name, level, origin, 0, message, None, exc_info, "write")  # type: ignore[arg-type]
    set_access_fields(
        record, request_id, user_id, method, path, route, trace_id, span_id, status, duration_ms, client_ip, cost
    )
    return record


def set_access_fields(
    target: Any,
    request_id: str,
    user_id: Any,
    method: str,
    path: str,
    route: str,
    trace_id: str,
    span_id: str,
    status: int,
    duration_ms: float,
    client_ip: str | None,
    cost: Cost | None,
) -> None:
    """``ACCESS_KEYS`` on a record or an :class:`AccessEvent`, in this order (a line's extras follow it).

    The context fields as ``RequestContextFilter`` would set them. One attribute at a
    time: about half the cost of ``__dict__.update`` (6,100 against 11,500
    instructions on Python 3.11).
    """
    target.request_id = request_id
    target.user_id = UNKNOWN if user_id is None else user_id
    target.method = method
    target.path = path
    target.route = route
    target.trace_id = trace_id
    target.span_id = span_id
    target.status = status
    target.duration_ms = round(duration_ms, 2)
    target.client_ip = client_ip
    # ``_cost.COST_FIELDS``, in its order; the times in ms to 0.01, as ``duration_ms``.
    (
        target.db_queries,
        target.db_ms,
        target.db_duplicates,
        target.cache_hits,
        target.cache_misses,
        target.outbound_calls,
        target.outbound_ms,
        target.cpu_ms,
        target.response_bytes,
    ) = cost_values(cost)
    target.lantern_access = True


class AccessEvent:
    """The access record's attributes, without a ``LogRecord``: what the direct path formats.

    It carries the attributes our formatters read, the access fields set by
    the function that sets the record's (``set_access_fields``), and no
    more: building a ``LogRecord`` also reads the clock's start, splits the
    path, looks up the thread and the process, which the default JSON and
    text lines never show. The thread and process attributes (the ECS and
    Datadog lines show them) are looked up the first time they are read, the
    way ``LogRecord`` would have found them.
    """

    def __init__(
        self,
        name: str,
        level: int,
        created: float,
        origin: OriginFile,
        message: AccessLine,
        request_id: str,
        user_id: Any,
        method: str,
        path: str,
        route: str,
        trace_id: str,
        span_id: str,
        status: int,
        duration_ms: float,
        client_ip: str | None,
        cost: Cost | None,
    ) -> None:
        self.name = name
        self.msg = message
        self.args = None
        self.levelname = logging.getLevelName(level)
        self.levelno = level
        self.pathname, self.filename, self.module = origin
        self.exc_info = None
        self.exc_text = None
        self.stack_info = None
        self.lineno = 0
        self.funcName = "write"
        self.created = created
        set_access_fields(
            self, request_id, user_id, method, path, route, trace_id, span_id, status, duration_ms, client_ip, cost
        )

    def getMessage(self) -> str:  # LogRecord's name: the formatters call it
        return str(self.msg)

    def __getattr__(self, name: str) -> Any:
        # Only reached for an attribute not set above.
        if name not in _LATE:
            raise AttributeError(name)
        self.__dict__.update(_thread_and_process())
        return self.__dict__[name]


# A line whose scope is unknown: nothing counted, no CPU time (read from no thread).
_NOTHING = Cost()
_NOTHING.thread = -1


def cost_values(cost: Cost | None) -> tuple[Any, ...]:
    """What an access line says the request cost (``Cost.values``); every count 0 when unknown."""
    return (_NOTHING if cost is None else cost).values()


# Python 3.13's ``LogRecord`` reads ``time.time_ns()`` (earlier ones ``time.time()``).
_NANOSECOND_CLOCK = sys.version_info >= (3, 13)


def _created_now_ns() -> float:
    return time.time_ns() / 1e9


# The time a ``LogRecord`` made now would carry as ``created``, read the way it reads it:
# before 3.13 the clock itself, so the direct path's call runs no Python frame.
created_now: Callable[[], float] = _created_now_ns if _NANOSECOND_CLOCK else time.time


# The origin of a line: ``pathname``, ``filename`` and ``module`` as ``LogRecord`` derives them.
OriginFile = tuple[str, str, str]
_LATE = frozenset({"thread", "threadName", "process", "processName"})


def origin_file(pathname: str) -> OriginFile:
    """``pathname`` with the file and module names ``LogRecord`` would derive from it."""
    filename = os.path.basename(pathname)
    return pathname, filename, os.path.splitext(filename)[0]


def _thread_and_process() -> dict[str, Any]:
    """The thread and process attributes, found as ``LogRecord.__init__`` finds them."""
    found: dict[str, Any] = {"thread": None, "threadName": None, "processName": None, "process": None}
    if logging.logThreads:
        found["thread"] = threading.get_ident()
        found["threadName"] = threading.current_thread().name
    if logging.logMultiprocessing:
        found["processName"] = "MainProcess"
        mp = sys.modules.get("multiprocessing")
        if mp is not None:
            with contextlib.suppress(Exception):
                found["processName"] = mp.current_process().name
    if logging.logProcesses:
        found["process"] = os.getpid()
    return found
