"""Database query metrics: one execute wrapper per connection, its children bound in once.

No database backend swap (django-prometheus needs one per engine): Django's
``connection_created`` signal fires for every new DB-API connection, and a
wrapper goes into that connection's ``execute_wrappers``. Each alias's
wrapper is built once per settings generation (``_Wrappers``) with the
alias's histogram and error-counter children bound in, so a query costs two
clock reads, one context read, one ``observe`` and the scope's count
(``_cost.Cost.query``): no settings, label or tracing look-up.
With ``TRACING_QUERY_SPANS`` on, the alias gets a second wrapper around the
first that starts the query span (:mod:`django_lantern.tracing._queries`);
with it off, nothing per query looks at tracing. With metrics off, the
wrapper only counts the query in the scope's cost (the access and task lines
say it whatever the metrics settings), and times it for the query insights
(N+1 and slow queries, ``metrics/_insights.py``) when they are on. With
``SQL_COMMENTS`` set, a layer inside the metrics one appends the statement's
comment (:mod:`django_lantern.metrics._sql_comments`): spans, the cost and the
query insights all see the statement as the application wrote it, and a
comment that carries the request id never makes each request's statements
look new.

Settings changes: a wrapper holds the settings and the families' children it
was built from, so when either changes (``setting_changed``, or a test
resetting the families) every instrumented connection, in every thread, has
its wrapper swapped for ``_rebind``, which puts the current wrapper in its
place at that connection's next query. The steady state pays nothing for this.

The wrapper is inserted first, not appended: ``connection.execute_wrapper()``
removes its own wrapper with ``pop()``, which would remove ours instead if we
had been appended while such a block was open; swaps replace ours in place.

Connections: ``connection_created`` counts each one opened. A connection
that fails to open sends no signal and never reaches an execute wrapper, so
``BaseDatabaseWrapper.connect`` (defined only there, for every backend) is
wrapped once to count the failure by alias and re-raise it unchanged.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from prometheus_client import Counter, Histogram

from django_lantern._caching import settings_cache
from django_lantern._errors import report_internal_error
from django_lantern.conf import get_settings
from django_lantern.context import current
from django_lantern.metrics import _families as families
from django_lantern.metrics import _insights as query_insights
from django_lantern.metrics import _recorder as recorder
from django_lantern.metrics import _sql_comments as sql_comments
from django_lantern.tracing import _queries as tracing_queries

# Django's execute wrapper: (execute, sql, params, many, context) -> the cursor's result.
ExecuteWrapper = Callable[[Callable[..., Any], Any, Any, bool, Mapping[str, Any]], Any]

_clock = time.perf_counter
_scope = current.get
_run_scope = query_insights.run_scope


def _metrics_wrapper(
    duration: Histogram | None,
    errors: Counter | None,
    inner: ExecuteWrapper | None = None,
    watch: query_insights.Watch | None = None,
) -> ExecuteWrapper:
    """Time the query and count it by the alias bound in (with metrics off, None: not
    counted), in the scope's cost (``_cost.Cost.query``) and for the query insights
    (``watch``), all from the same two clock reads and one context read; never swallow
    its error. ``inner``: a layer that runs the query (the SQL comment), so that what is
    counted is the statement as written."""
    observe = None if duration is None else duration.observe
    note, slow_after = (None, math.inf) if watch is None else watch

    def lantern_query_metrics(
        execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]
    ) -> Any:
        start = _clock()
        try:
            if inner is None:
                result = execute(sql, params, many, context)
            else:
                result = inner(execute, sql, params, many, context)
        except BaseException:
            _failed(duration, errors, _clock() - start, sql, params)
            raise
        try:
            seconds = _clock() - start
            if observe is not None:
                observe(seconds)
            ctx = _scope()
            if ctx is not None:
                ctx.cost.query(seconds, sql, params)
            # Outside a request and a run's scope (opened in the run's context), only a
            # slow statement concerns the insights.
            if note is not None and (
                seconds >= slow_after or (ctx is not None and (ctx.request is not None or _run_scope() is not None))
            ):
                note(sql, seconds, ctx)
        except Exception as exc:
            report_internal_error("db_metrics", exc)
        return result

    return lantern_query_metrics


def _failed(duration: Histogram | None, errors: Counter | None, seconds: float, sql: Any, params: Any) -> None:
    try:
        if duration is not None and errors is not None:
            duration.observe(seconds)
            errors.inc()
        if (ctx := _scope()) is not None:
            ctx.cost.query(seconds, sql, params)
    except Exception as exc:
        report_internal_error("db_metrics", exc)


# With metrics off: the scope's cost only (the access and task lines say it whatever the metrics settings).
_cost_wrapper = _metrics_wrapper(None, None)


def _span_wrapper(inner: ExecuteWrapper, base: tracing_queries.SpanBase) -> ExecuteWrapper:
    """Run ``inner`` inside the query's span (when one is started)."""

    def lantern_query_span(
        execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]
    ) -> Any:
        span = tracing_queries.start(base, sql, params, many)
        if span is None:
            return inner(execute, sql, params, many, context)
        error: type[BaseException] | None = None
        try:
            return inner(execute, sql, params, many, context)
        except BaseException as exc:
            error = type(exc)  # the type only: holding the exception would make a reference cycle
            raise
        finally:
            tracing_queries.finish(span, error)

    return lantern_query_span


class _Wrappers:
    """Each alias's wrapper under the current settings and families; used on the slow paths only."""

    def __init__(self) -> None:
        cfg = get_settings()
        self.spans = cfg.tracing_query_spans
        self.max_length = cfg.tracing_query_max_length
        self.sql_comments = cfg.sql_comments
        # Aliases come from DATABASES, so this stays as small as the settings.
        self.by_alias: dict[str, ExecuteWrapper | None] = {}

    def get(self, connection: Any) -> ExecuteWrapper | None:
        alias = connection.alias
        if alias not in self.by_alias:
            self.by_alias[alias] = self._build(connection)
        return self.by_alias[alias]

    def _build(self, connection: Any) -> ExecuteWrapper | None:
        series = recorder.db_query_series(connection.alias)
        comments = sql_comments.wrapper(self.sql_comments) if self.sql_comments else None
        watch = query_insights.watch_for(getattr(connection, "vendor", "") or "")
        if series is None and comments is None and watch is None:
            wrapper = _cost_wrapper
        else:
            duration, errors = (None, None) if series is None else series
            wrapper = _metrics_wrapper(duration, errors, comments, watch)
        if self.spans:
            base = tracing_queries.SpanBase(connection, self.max_length)
            wrapper = _span_wrapper(wrapper, base)
        return wrapper


def _rebind_all(_: _Wrappers) -> None:
    """The wrappers were built from settings that changed: every instrumented connection gets ``_rebind``."""
    with _lock:
        for connection, wrapper in list(_installed.items()):
            _swap(connection, wrapper, _rebind)


@settings_cache(teardown=_rebind_all)
def _wrappers() -> _Wrappers:
    return _Wrappers()


# Every connection given a wrapper, in every thread, with what it was given
# (None: nothing, metrics and spans being off), so that a change reaches it.
_installed: weakref.WeakKeyDictionary[Any, ExecuteWrapper | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_NEVER = object()


def _swap(connection: Any, old: object, new: ExecuteWrapper | None) -> None:
    """Put ``new`` where ``old`` is in the connection's wrappers (first if ``old`` is
    not there; None removes it). Call with ``_lock`` held."""
    wrappers = connection.execute_wrappers
    index = next((i for i, wrapper in enumerate(wrappers) if wrapper is old), None)
    if index is None:
        if new is not None:
            wrappers.insert(0, new)
    elif new is None:
        del wrappers[index]
    else:
        wrappers[index] = new
    _installed[connection] = new


def instrument(connection: Any) -> ExecuteWrapper | None:
    """Give ``connection`` its alias's current wrapper and return it. Idempotent: a
    connection object reconnects (``CONN_MAX_AGE``) and fires the signal again."""
    wrapper = _wrappers().get(connection)
    if wrapper is not None and wrapper in connection.execute_wrappers:
        return wrapper  # the connection object reconnecting: only ``_swap`` puts it there
    with _lock:
        old = _installed.get(connection, _NEVER)
        if old is not wrapper or (wrapper is not None and wrapper not in connection.execute_wrappers):
            _swap(connection, old, wrapper)
    return wrapper


def current_wrapper(connection: Any) -> ExecuteWrapper | None:
    """What ``connection`` was given (None: nothing, or never instrumented)."""
    return _installed.get(connection)


def _instrument_later(connection: Any) -> None:
    """Give ``connection`` the stand-in that instruments it at its next query."""
    with _lock:
        _swap(connection, _installed.get(connection, _NEVER), _rebind)


def _rebind(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
    """Stands in for a retired wrapper until the connection's next query: puts the
    current wrapper in its place and runs the query through it."""
    try:
        wrapper = instrument(context["connection"])
    except Exception as exc:  # stays in place: the next query tries again
        report_internal_error("db_metrics", exc)
        wrapper = None
    if wrapper is None:
        return execute(sql, params, many, context)
    return wrapper(execute, sql, params, many, context)


def _retire() -> None:
    """The families were replaced: the wrappers holding their children go (``_rebind_all``)."""
    _wrappers.cache_clear()


def _count_connection(alias: str, *, failed: bool) -> None:
    try:
        recorder.db_connection(alias, failed=failed)
    except Exception as exc:
        report_internal_error("db_metrics", exc)


def _on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    try:
        instrument(connection)
    except Exception as exc:  # never fail the connection: try again at its first query
        report_internal_error("db_metrics", exc)
        _instrument_later(connection)
    _count_connection(connection.alias, failed=False)


@functools.cache
def _wrap_connect() -> Callable[[BaseDatabaseWrapper], None]:
    """Count failed connection attempts: Django's method is wrapped once per process; returns the wrapper."""
    original = BaseDatabaseWrapper.connect

    @functools.wraps(original)
    def connect(self: BaseDatabaseWrapper) -> None:
        try:
            original(self)
        except Exception:
            _count_connection(self.alias, failed=True)
            raise

    setattr(BaseDatabaseWrapper, "connect", connect)  # noqa: B010  (mypy refuses a method assignment)
    return connect


def install() -> None:
    """Connect the signal; the connections this thread already opened are
    instrumented at their next query (nothing is built at start-up)."""
    connection_created.connect(_on_connection_created, dispatch_uid="django_lantern.metrics._db")
    families.on_unregister(_retire)
    _wrap_connect()
    for connection in connections.all(initialized_only=True):
        _instrument_later(connection)
