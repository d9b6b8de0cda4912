"""Query insights: N+1 queries and slow queries, found in production, on the ``lantern.db`` logger.

A *scope* is one request, Celery task run, ``django.tasks`` run or management
command: :func:`begin` opens a task run's or command's (in its own
``ContextVar``, apart from the log context); a request's is made at its first
query and kept on the request (``end_request``); :func:`end` closes it. The query wrapper
(``metrics/_db.py``) calls the function :func:`watch_for` built for it once per statement,
after it ran:

- N+1: the statement's fingerprint (the SQL scrubber's text: literals are
  ``?``, comments gone) is looked up by statement text in a bounded map, so a
  statement seen before is not scrubbed again, and counted in the scope (at
  most ``MAX_FINGERPRINTS`` per scope; past that, new ones are counted as
  overflow and not tracked). The stack is walked for the callsite once, when a
  count reaches ``N_PLUS_ONE_THRESHOLD``, never per query. At the scope's end
  each fingerprint at or over the threshold is one WARNING with the final
  ``count``, ``fingerprint`` and ``callsite``, and one count in
  ``lantern_db_n_plus_one_total{route}``.
- Slow: a statement that took ``SLOW_QUERY_MS`` or more is one WARNING at once
  (``sql``, the scrubbed text; ``db_ms``; ``callsite``), in a scope or not, and
  one count in ``lantern_db_slow_queries_total{route}``.

Both WARNINGs are written at most once per (route, fingerprint) per
``REPEAT_INTERVAL`` seconds in a process (the metrics count every one), so a
hot page does not flood the log. ``N_PLUS_ONE = "raise"`` (for tests) makes
:func:`end` raise :class:`NPlusOneError` with the WARNING's message where the
caller can fail the run: after the view (the request becomes a 500, the test
client raises it) and after a command's ``handle()``; task runs only log.

The callsite is the first frame outside Django, django-lantern, the standard
library and installed packages: the user's code, as ``app/views.py:25``,
relative to the longest ``sys.path`` entry that holds it. The entry point
(``__main__``: ``manage.py``) does not count: a repeat with no frame of the
project's own (a migration's bookkeeping) is Django's and is not reported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, NamedTuple

from prometheus_client import REGISTRY, Counter

from django_lantern._caching import settings_cache
from django_lantern._errors import report_internal_error
from django_lantern.conf import get_settings
from django_lantern.context import UNKNOWN, RequestContext, current
from django_lantern.metrics import _callsite
from django_lantern.metrics._capped import CappedFamily
from django_lantern.metrics._families import _Declare, get_label_overflow
from django_lantern.metrics._naming import metric_name
from django_lantern.scrubbing._sql import scrub_sql

LOGGER = "lantern.db"
N_PLUS_ONE = "n_plus_one"
SLOW_QUERY = "slow_query"
N_PLUS_ONE_FAMILY = "lantern_db_n_plus_one"
SLOW_QUERY_FAMILY = "lantern_db_slow_queries"
MAX_FINGERPRINTS = 256
# Statement text -> fingerprint; statements longer than this are scrubbed each time (not kept in memory).
MAX_CACHED = 4096
MAX_CACHED_LENGTH = 8192
FINGERPRINT_LENGTH = 2048
REPEAT_INTERVAL = 60.0
MAX_REPEAT_KEYS = 4096

logger = logging.getLogger(LOGGER)


class NPlusOneError(AssertionError):
    """``N_PLUS_ONE = "raise"``: the run repeated one statement; the message is the WARNING's."""


@dataclass(frozen=True)
class _Config:
    threshold: int | None  # None: N+1 detection off
    raises: bool
    slow_seconds: float | None


@settings_cache
def config() -> _Config:
    cfg = get_settings()
    slow = cfg.slow_query_ms
    return _Config(
        threshold=cfg.n_plus_one_threshold if cfg.n_plus_one is not None else None,
        raises=cfg.n_plus_one == "raise",
        slow_seconds=None if slow is None else slow / 1000,
    )


class Scope:
    """One request's, task run's or command's counts by fingerprint."""

    __slots__ = ("callsites", "closed", "counts", "overflow", "threshold", "token")

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.counts: dict[str, int] = {}
        # Fingerprint -> callsite, for those that reached the threshold: empty (most runs), nothing to report.
        self.callsites: dict[str, str] | None = None
        self.overflow = 0
        self.closed = False
        self.token: Token[Scope | None] | None = None

    def reached(self, fingerprint: str) -> None:
        """``fingerprint`` ran its threshold's number of times: where it ran is kept for the report."""
        if self.callsites is None:
            self.callsites = {}
        self.callsites[fingerprint] = callsite()


_scope: ContextVar[Scope | None] = ContextVar("django_lantern_query_scope", default=None)
# The task run's or command's scope (``begin``), if any.
run_scope = _scope.get


def begin() -> Scope | None:
    """Open a scope for the current task run or command, in its context (``binding.enter_context``):
    outside any context, a query is not counted (None: N+1 detection is off)."""
    threshold = config().threshold
    if threshold is None:
        return None
    scope = Scope(threshold)
    scope.token = _scope.set(scope)
    return scope


# A request's scope is kept on the request object, made at its first query: a request
# that runs none pays nothing, and the view's threads (``sync_to_async``) share it.
REQUEST_ATTRIBUTE = "_lantern_query_scope"


def _request_scope(request: Any, threshold: int) -> Scope:
    """The request's scope, made at its first query."""
    found: Scope | None = request.__dict__.get(REQUEST_ATTRIBUTE)
    if found is None:
        found = request.__dict__.setdefault(REQUEST_ATTRIBUTE, Scope(threshold))
    return found


def end_request(request: Any, *, emit: bool = True, fail: bool = False) -> None:
    """:func:`end` for a request's scope, if its queries made one."""
    scope = request.__dict__.get(REQUEST_ATTRIBUTE)
    if scope is not None:
        end(scope, emit=emit, fail=fail)


def end(scope: Scope | None, where: str | None = None, *, emit: bool = True, fail: bool = False) -> None:
    """Close ``scope`` (idempotent): a WARNING and a count per repeated fingerprint.
    ``where`` labels the metric (the route when None); ``emit=False`` drops the counts
    (a probe's); ``fail`` raises :class:`NPlusOneError` in ``"raise"`` mode. Never
    raises otherwise."""
    if scope is None or scope.closed:
        return
    scope.closed = True
    if scope.token is not None:
        with contextlib.suppress(ValueError, RuntimeError):  # another context's token: nothing to restore there
            _scope.reset(scope.token)
    if scope.callsites is None or not emit:
        return  # the common case: nothing repeated
    found: list[str] = []
    try:
        found = _report(scope, scope.callsites, where)
    except Exception as exc:
        report_internal_error("query_insights", exc)
    if fail and found and config().raises:
        raise NPlusOneError(found[0])


def _report(scope: Scope, callsites: dict[str, str], where: str | None) -> list[str]:
    messages = []
    for fingerprint, site in callsites.items():
        count = scope.counts[fingerprint]
        if site == UNKNOWN:  # Django's own work (a migration): nothing the project can change
            continue
        message = f"n_plus_one count={count} callsite={_quoted(site)} fingerprint={_quoted(fingerprint)}"
        messages.append(message)
        route = where or _route()
        _counted(N_PLUS_ONE, route)
        if _first_in_interval(route, fingerprint):
            extra = {"insight": N_PLUS_ONE, "fingerprint": fingerprint, "count": count, "callsite": site}
            if scope.overflow:
                extra["fingerprints_overflow"] = scope.overflow
            logger.warning(message, extra=extra)
    return messages


def _quoted(text: str) -> str:
    """A JSON string: a statement's quotes and line breaks cannot forge a field of the message."""
    return json.dumps(text, ensure_ascii=True)


# The per-query call of one connection alias's wrapper (``metrics/_db.py``): the
# statement, its seconds and the current context (``context.current``), or None.
Note = Callable[[Any, float, RequestContext | None], None]


class Watch(NamedTuple):
    """What the query wrapper of one alias needs for the insights."""

    # Called after a statement run in a request's context or in a run's scope (``run_scope``,
    # in the run's context), or slow.
    note: Note
    # The seconds from which a statement is slow (infinite: slow queries are not reported).
    slow_after: float


def watch_for(vendor: str) -> Watch | None:
    """The insights of an alias of ``vendor``, or None when they are off. The settings are
    bound in here, once per wrapper (a settings change builds new wrappers), so a query
    reads none of them."""
    c = config()
    threshold, slow_seconds = c.threshold, c.slow_seconds
    if threshold is None and slow_seconds is None:
        return None
    slow_after = math.inf if slow_seconds is None else slow_seconds

    def query(sql: Any, seconds: float, ctx: RequestContext | None) -> None:
        """Count the statement in the current scope (the task run's or command's, else the
        request's, made now if need be); report it if slow. Never raises."""
        try:
            scope = _scope.get()
            if scope is None and threshold is not None and ctx is not None:
                request = ctx.request
                if request is not None:
                    # Read where ``_request_scope`` keeps it; that makes it at the first query.
                    scope = request.__dict__.get(REQUEST_ATTRIBUTE) or _request_scope(request, threshold)
            slow = seconds >= slow_after
            if (scope is None or scope.closed) and not slow:
                return  # outside any scope (a probe's thread, a script) and not slow: most queries there
            # A statement seen before is a look-up here; ``_fingerprint`` makes the others.
            fingerprint = _fingerprints.get(sql) if type(sql) is str else None
            if fingerprint is None:
                fingerprint = _fingerprint(sql, vendor)
                if fingerprint is None:
                    return
            if scope is not None and not scope.closed:
                # Counted here rather than in a method of the scope: one frame fewer a query.
                counts = scope.counts
                n = counts.get(fingerprint, 0) + 1
                if n == 1 and len(counts) >= MAX_FINGERPRINTS:
                    scope.overflow += 1
                else:
                    counts[fingerprint] = n
                    if n == scope.threshold:
                        scope.reached(fingerprint)
            if slow:
                _slow(fingerprint, seconds)
        except Exception as exc:
            report_internal_error("query_insights", exc)

    return Watch(query, slow_after)


_fingerprints: dict[str, str] = {}


def _fingerprint(sql: Any, vendor: str) -> str | None:
    """The statement's shape; None for a composed statement whose text we do not read."""
    if not isinstance(sql, str):
        return None
    found = _fingerprints.get(sql)
    if found is None:
        found = scrub_sql(sql, FINGERPRINT_LENGTH, vendor)
        if len(sql) <= MAX_CACHED_LENGTH:
            if len(_fingerprints) >= MAX_CACHED:
                _fingerprints.clear()
            _fingerprints[sql] = found
    return found


def _slow(fingerprint: str, seconds: float) -> None:
    route = _route()
    _counted(SLOW_QUERY, route)
    if not _first_in_interval(route, SLOW_QUERY + fingerprint):
        return
    site = callsite()
    db_ms = round(seconds * 1000, 2)
    logger.warning(
        f"slow_query db_ms={db_ms} callsite={_quoted(site)} sql={_quoted(fingerprint)}",
        extra={"insight": SLOW_QUERY, "sql": fingerprint, "db_ms": db_ms, "callsite": site},
    )


def _route() -> str:
    """The request's route; a task's name or a command's, which label the metric in their place."""
    ctx = current.get()
    if ctx is None:
        return UNKNOWN
    if ctx.request is not None:
        return ctx.route
    fields = ctx.fields
    return str(fields.get("task_name") or fields.get("command") or UNKNOWN)


# -- once per (route, fingerprint) per interval ---------------------------------
_last_written: dict[tuple[str, str], float] = {}
_repeat_lock = threading.Lock()


def _first_in_interval(route: str, fingerprint: str) -> bool:
    key = (route, fingerprint)
    now = time.monotonic()
    with _repeat_lock:
        last = _last_written.get(key)
        if last is not None and now - last < REPEAT_INTERVAL:
            return False
        if len(_last_written) >= MAX_REPEAT_KEYS:
            _last_written.clear()
        _last_written[key] = now
    return True


def reset() -> None:
    """Forget which WARNINGs were written (tests; a new interval for every key)."""
    with _repeat_lock:
        _last_written.clear()


# -- the callsite ----------------------------------------------------------------
def callsite() -> str:
    """``path/to/views.py:25``: the innermost frame of the user's code that called this, or ``-``."""
    return _callsite.callsite(sys._getframe(1))


# -- metrics ---------------------------------------------------------------------
@dataclass
class _Families:
    counters: dict[str, Counter]
    capped: dict[str, CappedFamily[Counter]]

    def unregister(self) -> None:
        for counter in self.counters.values():
            with contextlib.suppress(KeyError):
                REGISTRY.unregister(counter)


def _teardown(families: _Families | None) -> None:
    if families is not None:
        families.unregister()


@settings_cache(teardown=_teardown)
def _families() -> _Families | None:
    cfg = get_settings()
    if not cfg.metrics_enabled:
        return None
    d = _Declare(cfg.metrics_namespace, REGISTRY)
    overflow = get_label_overflow()
    docs = {
        N_PLUS_ONE: (N_PLUS_ONE_FAMILY, "Requests, task runs and commands that repeated one statement, by route."),
        SLOW_QUERY: (SLOW_QUERY_FAMILY, "Queries slower than SLOW_QUERY_MS, by route."),
    }
    counters = {kind: d.counter(name, doc, ["route"]) for kind, (name, doc) in docs.items()}
    capped = {}
    for kind, counter in counters.items():
        full = metric_name(cfg.metrics_namespace, docs[kind][0])
        capped[kind] = CappedFamily(_labeller(counter), full, 1, cfg.metrics_max_label_sets, overflow.labels(full))
    return _Families(counters, capped)


def _labeller(counter: Counter) -> Callable[[tuple[str, ...]], Counter]:
    return lambda values: counter.labels(*values)


def _counted(kind: str, route: str) -> None:
    try:
        families = _families()
        if families is None:
            return
        family = families.capped[kind]
        (family.fast.get(route) or family.resolve(route, (route,))).inc()
    except Exception as exc:
        report_internal_error("query_insights", exc)
