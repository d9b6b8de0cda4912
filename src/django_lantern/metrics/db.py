"""Database query metrics: one execute wrapper per connection, installed once.

No database backend swap (django-prometheus needs one per engine): Django's
``connection_created`` signal fires for every new DB-API connection, and the
wrapper goes into that connection's ``execute_wrappers``, so each query costs
two clock reads and one histogram observation, and nothing is done per request.

The wrapper is inserted first, not appended: ``connection.execute_wrapper()``
removes its own wrapper with ``pop()``, which would remove ours instead if we
had been appended while such a block was open.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from django_lantern.errors import report_internal_error
from django_lantern.metrics import recorder

_clock = time.perf_counter


def observe_query(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
    """The execute wrapper: time the query, count it by alias, never swallow its error."""
    start = _clock()
    failed = True
    try:
        result = execute(sql, params, many, context)
        failed = False
        return result
    finally:
        try:
            recorder.db_query(context["connection"].alias, _clock() - start, failed=failed)
        except Exception as exc:
            report_internal_error("db_metrics", exc)


def instrument(connection: BaseDatabaseWrapper) -> None:
    """Idempotent: a connection object reconnects (``CONN_MAX_AGE``) and fires the signal again."""
    if observe_query not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, observe_query)


def _on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    instrument(connection)


def install() -> None:
    """Connect the signal and instrument the connections this thread already opened."""
    connection_created.connect(_on_connection_created, dispatch_uid="django_lantern.metrics.db")
    for connection in connections.all(initialized_only=True):
        instrument(connection)


def uninstall() -> None:
    """For tests: stop instrumenting new connections and unwrap this thread's."""
    connection_created.disconnect(dispatch_uid="django_lantern.metrics.db")
    for connection in connections.all(initialized_only=True):
        while observe_query in connection.execute_wrappers:
            connection.execute_wrappers.remove(observe_query)
