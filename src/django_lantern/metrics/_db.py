"""Database query metrics: one execute wrapper per connection, installed once.

No database backend swap (django-prometheus needs one per engine): Django's
``connection_created`` signal fires for every new DB-API connection, and the
wrapper goes into that connection's ``execute_wrappers``, so each query costs
two clock reads and one histogram observation, and nothing is done per request.

The wrapper is inserted first, not appended: ``connection.execute_wrapper()``
removes its own wrapper with ``pop()``, which would remove ours instead if we
had been appended while such a block was open. The same wrapper starts the
optional query span (:mod:`django_lantern.tracing._queries`).

Connections: ``connection_created`` counts each one opened. A connection
that fails to open sends no signal and never reaches an execute wrapper, so
``BaseDatabaseWrapper.connect`` (defined only there, for every backend) is
wrapped once to count the failure by alias and re-raise it unchanged.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from django_lantern import tracing
from django_lantern._errors import report_internal_error
from django_lantern.metrics import _recorder as recorder
from django_lantern.tracing import _queries as tracing_queries

_clock = time.perf_counter


def observe_query(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
    """The execute wrapper: time the query, count it by alias, never swallow its error."""
    span = tracing_queries.start(sql, params, many, context) if tracing.state.tracer is not None else None
    start = _clock()
    error: type[BaseException] | None = None
    try:
        return execute(sql, params, many, context)
    except BaseException as exc:
        error = type(exc)  # the type only: holding the exception would make a reference cycle
        raise
    finally:
        try:
            recorder.db_query(context["connection"].alias, _clock() - start, failed=error is not None)
        except Exception as exc:
            report_internal_error("db_metrics", exc)
        if span is not None:
            tracing_queries.finish(span, error)


def instrument(connection: BaseDatabaseWrapper) -> None:
    """Idempotent: a connection object reconnects (``CONN_MAX_AGE``) and fires the signal again."""
    if observe_query not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, observe_query)


def _count_connection(alias: str, *, failed: bool) -> None:
    try:
        recorder.db_connection(alias, failed=failed)
    except Exception as exc:
        report_internal_error("db_metrics", exc)


def _on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    instrument(connection)
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
    """Connect the signal and instrument the connections this thread already opened."""
    connection_created.connect(_on_connection_created, dispatch_uid="django_lantern.metrics._db")
    _wrap_connect()
    for connection in connections.all(initialized_only=True):
        instrument(connection)
