"""Repeated errors: one fingerprint, one budget per fingerprint, one folding rule.

A view that fails the same way on every request writes the same stack on
every request: about 1.5 kB a line, so an error storm grows the logs as fast
as the traffic. Here an error's stack is written in full the first time, then
at most once per interval; the identical records in between are *folded*:
not written, counted (``lantern_log_records_folded_total``), and the next
full line of that error says how many it stands for (``folded``).

- :func:`error_fingerprint` says which records are "the same error": the
  logger, the line that logged it, the request's route, and the exception's
  type and frames (``file:function:line``, the chain of causes included), never
  the message, whose values vary. The admins' e-mail (``reporting.py``)
  groups errors with the same function.
- :class:`RepeatBudget` is the bounded table (least recently seen entries go
  first), thread-safe, per process; it costs something only when an error
  is logged.
- :func:`fold` is the rule a handler's filter applies. It never changes what
  the record says (``exc_info`` stays: handlers after this one and Sentry's
  logging integration, which reads the record once every handler has run,
  still see the exception); it marks the record instead, and an access line
  (a streaming body that failed) is never dropped, only written without its
  stack.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from django_lantern.context import current
from django_lantern.logging.handlers import FOLDED, _count

# The record attribute that holds the decision (True: folded), so a record
# handed to several handlers is counted once and decided the same way.
FOLD_MARK = "lantern_fold"
# The field a full line carries: identical errors folded since the previous full line.
FOLDED_FIELD = "folded"

DEFAULT_INTERVAL = 60.0
DEFAULT_MAX_ERRORS = 1024

# Bounds on the work a fingerprint does (a RecursionError has 1,000 frames).
_MAX_FRAMES = 256
_MAX_CHAIN = 8


def error_fingerprint(record: logging.LogRecord) -> int:
    """Which error ``record`` reports, as a number: equal for records of the same error.

    The logger, the call that logged it (file and line), the route, and, when
    the record carries an exception, the type and frames of it and of its
    causes. The message is left out: it carries values (an id, a timeout)
    that differ between two occurrences of one error.
    """
    parts: list[object] = [record.name, record.pathname, record.lineno, _route(record)]
    exc_info = record.exc_info
    if exc_info and exc_info[0] is not None:
        exc: BaseException | None = exc_info[1]
        tb = exc_info[2]
        if exc is None:
            parts.append(_type_name(exc_info[0]))
        seen: set[int] = set()
        while exc is not None and len(seen) < _MAX_CHAIN and id(exc) not in seen:
            seen.add(id(exc))
            parts.append(_type_name(type(exc)))
            frames = 0
            while tb is not None and frames < _MAX_FRAMES:
                code = tb.tb_frame.f_code
                parts.append((code.co_filename, code.co_name, tb.tb_lineno))
                tb = tb.tb_next
                frames += 1
            exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
            tb = exc.__traceback__ if exc is not None else None
    return hash(tuple(parts))


def _type_name(kind: type[BaseException]) -> str:
    # The name, not the class: a class's hash is its address, which a
    # class made at run time can hand on to another once it is collected.
    return f"{kind.__module__}.{kind.__qualname__}"


def _route(record: logging.LogRecord) -> object:
    route = record.__dict__.get("route")
    if route is None:  # a handler without the context filter (the admins' e-mail)
        ctx = current.get()
        route = ctx.route if ctx is not None else None
    return route


class RepeatBudget:
    """Per fingerprint: the first occurrence is admitted, then at most one per interval.

    At most ``max_errors`` fingerprints are remembered; a new one beyond that
    evicts the one seen least recently (the new error is admitted: it is news).
    ``clock`` is ``time.monotonic`` unless a test gives another.
    """

    def __init__(self, max_errors: int = DEFAULT_MAX_ERRORS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_errors = max(1, max_errors)
        self._clock = clock
        # fingerprint -> [time last admitted, folded since]
        self._entries: OrderedDict[int, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, key: int, interval: float) -> int | None:
        """None when this occurrence is folded; else how many were folded
        since the previous admitted one (0 the first time)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                if len(self._entries) >= self.max_errors:
                    self._entries.popitem(last=False)
                self._entries[key] = [now, 0]
                return 0
            self._entries.move_to_end(key)
            if now - entry[0] < interval:
                entry[1] += 1
                return None
            folded = int(entry[1])
            entry[0], entry[1] = now, 0
            return folded

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every error (tests; a fresh window for each)."""
        with self._lock:
            self._entries.clear()


def fold(record: logging.LogRecord, budget: RepeatBudget, interval: float) -> bool:
    """Whether a handler writes ``record`` (a record with an exception).

    Sets ``folded`` on a full line that stands for earlier folded ones, and
    marks a folded one (:data:`FOLD_MARK`), which is then dropped, except an
    access line, which the formatters write without its stack.
    """
    attrs = record.__dict__
    folded = attrs.get(FOLD_MARK)
    if folded is None:
        admitted = budget.admit(error_fingerprint(record), interval)
        folded = attrs[FOLD_MARK] = admitted is None
        if admitted:
            attrs[FOLDED_FIELD] = admitted
        elif folded:
            _count(FOLDED)
    return not folded or attrs.get("lantern_access") is True
