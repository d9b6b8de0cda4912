"""``LANTERN["DEBUG_ON_ERROR"]``: the DEBUG lines of the requests and task runs that failed, only.

With a logger at INFO, ``logger.debug(...)`` normally ends at ``isEnabledFor``.
When the setting is on, :func:`install` replaces ``logging.Logger.debug`` with
:func:`_debug`: a call the logger would drop, made while a request or task run
holds a buffer (``RequestContext.held``), is kept as its arguments, the caller's
code and instruction offset, the time, the thread and the context it was made
in; no ``LogRecord`` is built and nothing is formatted. A run that fails or is
slow (:func:`settle`, at its end) or writes an ERROR record (:func:`flush`,
from ``RequestContextFilter`` and the exception receivers, before that record)
has its calls turned into records, in order, with their original time, line,
thread and context, and handed to the logger's handlers, through the same
filters, formatters and scrubber as any record; any other run's are simply
forgotten.

Why a patch of ``Logger.debug`` rather than lower levels and a filter: a
filter sees a record, and building one costs several microseconds per call;
a logger class applies only to loggers made after it is set, and Django's and
the libraries' are made at import. The patch changes nothing a caller can
see: an enabled logger (a ``DEBUG`` level set in ``LOGGING``, by
``assertLogs(level="DEBUG")`` or by ``lantern_loglevel``) writes as before,
with the same caller, and a logger set above INFO (a quiet library) is not
buffered at all. What it does not see: ``logger.log(logging.DEBUG, ...)``, and
adapters and structlog filters that test the level before calling ``debug``.

Bounded: at most ``DEBUG_ON_ERROR_RECORDS`` calls per run (references to
their arguments, never copies), and at most ``MAX_BYTES`` of message text
written; beyond either the oldest are dropped and counted
(``lantern_log_debug_records_overflow_total``), and the written lines start
with one that says how many. Arguments are formatted when written, so an
object changed after the call shows its later state, as with any handler that
formats late.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.context import RequestContext, current
from django_lantern.logging import handlers

__all__ = ["Held", "begin", "flush", "install", "on_setting_changed", "settle", "uninstall"]

# At most this much message text written per run (the newest calls kept).
MAX_BYTES = 1 << 20
# The logger of the line that says how many calls were dropped.
OVERFLOW_LOGGER = handlers.GAP_LOGGER

_DEBUG = logging.DEBUG
_INFO = logging.INFO
_stock_debug = logging.Logger.debug
# Bound once: each is one look-up less on the call that is kept.
_current_get = current.get
_getframe = sys._getframe
_now = time.time
_thread = threading.get_ident


class Held:
    """One run's buffered calls, oldest first, each
    ``(created, logger, msg, args, kwargs, ctx, code, offset, thread)``; the newest ``limit`` kept."""

    __slots__ = ("calls", "entries")

    def __init__(self, limit: int) -> None:
        self.entries: deque[tuple[Any, ...]] = deque(maxlen=limit)
        self.calls = 0

    @property
    def overflow(self) -> int:
        """Calls the buffer let go, oldest first, to keep ``limit``."""
        return self.calls - len(self.entries)


def _debug(self: logging.Logger, msg: Any, *args: Any, **kwargs: Any) -> None:
    """``Logger.debug`` while DEBUG_ON_ERROR is on (see the module's text).

    The kept call is the cost that counts (bench/harness/debug_cost.py): no
    method call, no line number (the instruction offset is read, the line found
    when written), no size (the byte bound is applied when written).
    """
    if self.isEnabledFor(_DEBUG):
        # One frame more than the stock method: the caller stays the line's origin.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self._log(_DEBUG, msg, args, **kwargs)
        return
    ctx = _current_get()
    if ctx is None:
        return
    held = ctx.held
    if held is None or not self.isEnabledFor(_INFO):
        return
    frame = _getframe(1)
    if kwargs:
        frame, kwargs = _resolved_now(frame, kwargs)
    held.calls += 1
    held.entries.append((_now(), self, msg, args, kwargs, ctx, frame.f_code, frame.f_lasti, _thread()))


def _resolved_now(frame: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """What only the moment of the call knows: the exception being handled, the
    stack, the frame ``stacklevel`` names. The rare path: most calls pass no keywords."""
    kwargs = dict(kwargs)
    for _ in range(max(int(kwargs.pop("stacklevel", 1) or 1), 1) - 1):
        if frame.f_back is None:
            break
        frame = frame.f_back
    exc_info = kwargs.get("exc_info")
    if exc_info and not isinstance(exc_info, (tuple, BaseException)):
        kwargs["exc_info"] = sys.exc_info()
    if kwargs.pop("stack_info", False):
        import traceback

        kwargs["sinfo"] = "Stack (most recent call last):\n" + "".join(traceback.format_stack(frame)).rstrip("\n")
    return frame, kwargs


def install() -> None:
    """Route ``Logger.debug`` through :func:`_debug` (idempotent)."""
    logging.Logger.debug = _debug  # type: ignore[method-assign]


def uninstall() -> None:
    """Give ``Logger.debug`` back; buffers already open are settled as usual."""
    if logging.Logger.debug is _debug:
        logging.Logger.debug = _stock_debug  # type: ignore[method-assign]


def begin(ctx: RequestContext, limit: int) -> None:
    """Give ``ctx`` (a request's or a task run's) a buffer of ``limit`` calls.

    Called only when DEBUG_ON_ERROR is on; the first call routes ``Logger.debug`` here,
    so a process that never turns it on never changes ``logging``.
    """
    if logging.Logger.debug is not _debug:
        install()
    ctx.held = Held(limit)


def on_setting_changed(setting: str = "", **kwargs: Any) -> None:
    """``setting_changed`` (tests): turning DEBUG_ON_ERROR off gives ``Logger.debug`` back."""
    if setting == "LANTERN":
        value = kwargs.get("value")
        if not (isinstance(value, Mapping) and value.get("DEBUG_ON_ERROR")):
            uninstall()


def flush(ctx: RequestContext | None) -> None:
    """Write what ``ctx``'s run holds now (before an ERROR line); it keeps buffering. Never raises."""
    held = None if ctx is None else ctx.held
    if held is not None and held.calls:
        _write(held)


def settle(ctx: RequestContext, keep: bool) -> None:
    """The run's end: write what it holds if ``keep`` (it failed or was slow), else drop it
    unformatted; either way the buffer is closed. Never raises."""
    held = ctx.held
    if held is None:
        return
    ctx.held = None
    if keep:
        _write(held)
    elif held.calls > len(held.entries):
        handlers.count_debug_overflow(held.overflow)


def _write(held: Held) -> None:
    entries, overflow = list(held.entries), held.overflow
    held.entries.clear()
    held.calls = 0
    records: list[tuple[logging.LogRecord, Any]] = []
    size = 0
    # Newest first, so that the byte bound keeps the calls nearest the failure.
    for entry in reversed(entries):
        try:
            record = _record(entry)
            size += len(record.getMessage())
        except Exception as exc:  # one bad call (an ``extra`` that clashes) does not cost the others
            report_internal_error("debug_on_error", exc)
            continue
        if size > MAX_BYTES and records:
            overflow += len(entries) - len(records)
            break
        records.append((record, entry[5]))
    if overflow:
        handlers.count_debug_overflow(overflow)
        first = records[-1] if records else None
        _guarded(_overflow_record(overflow, len(records), first))
    for record, ctx in reversed(records):
        _guarded((record, ctx))


def _guarded(item: tuple[logging.LogRecord, Any]) -> None:
    """Hand the record to its logger's handlers in the context it was made in, so the
    context filter and the scrubber (the run's secrets) see what they would have seen."""
    record, ctx = item
    token = current.set(ctx)
    try:
        logging.getLogger(record.name).handle(record)
    except Exception as exc:
        report_internal_error("debug_on_error", exc)
    finally:
        current.reset(token)


def _record(entry: tuple[Any, ...]) -> logging.LogRecord:
    created, msg, args, kwargs, _ctx, code, offset, thread = entry[0], *entry[2:]
    logger: logging.Logger = entry[1]
    extra = kwargs.get("extra") if kwargs else None
    record = logger.makeRecord(
        logger.name,
        _DEBUG,
        code.co_filename,
        _line(code, offset),
        msg,
        args,
        kwargs.get("exc_info") if kwargs else None,
        code.co_name,
        extra if isinstance(extra, Mapping) else None,
        kwargs.get("sinfo") if kwargs else None,
    )
    _restamp(record, created, thread)
    return record


def _line(code: Any, offset: int) -> int:
    """The source line of the instruction at ``offset`` (what ``frame.f_lineno`` would have said)."""
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return int(line)
    return int(code.co_firstlineno)


def _restamp(record: logging.LogRecord, created: float, thread: int) -> None:
    """The time and thread of the call, as ``LogRecord`` would have set them then."""
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    start = logging._startTime  # type: ignore[attr-defined]
    record.relativeCreated = (created - (start / 1e9 if start > 1e12 else start)) * 1000
    if record.thread != thread:
        record.thread = thread
        found = threading._active.get(thread)  # type: ignore[attr-defined]
        record.threadName = found.name if found is not None else str(thread)


def _overflow_record(
    overflow: int, kept: int, first: tuple[logging.LogRecord, Any] | None
) -> tuple[logging.LogRecord, Any]:
    logger = logging.getLogger(OVERFLOW_LOGGER)
    record = logger.makeRecord(
        logger.name,
        _DEBUG,
        __file__,
        0,
        "%d earlier DEBUG calls of this run were dropped; the last %d follow (DEBUG_ON_ERROR)",
        (overflow, kept),
        None,
        extra={"debug_dropped": overflow},
    )
    if first is None:
        return record, _current_get()
    _restamp(record, first[0].created, first[0].thread or 0)
    return record, first[1]
