"""Database query metrics: counted by alias through one wrapper per connection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections

from django_lantern.metrics import _db as db
from tests.helpers.services import require_postgres
from tests.metrics.conftest import value


def _queries(alias: str = "default") -> float:
    return value("django_db_query_duration_seconds_count", {"alias": alias})


@pytest.mark.django_db
def test_queries_are_counted_and_timed() -> None:
    """Each query adds one observation to the alias's histogram."""
    before = _queries()
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT 1")
    assert _queries() == before + 3
    assert value("django_db_query_duration_seconds_sum", {"alias": "default"}) > 0
    assert value("django_db_query_errors_total", {"alias": "default"}) == 0


@pytest.mark.django_db
def test_failed_queries_are_counted_and_reraised() -> None:
    """A failing query is counted as an error and its exception reaches the caller unchanged."""
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_for_lantern")
    assert value("django_db_query_errors_total", {"alias": "default"}) == 1


@pytest.mark.django_db
def test_wrapper_is_installed_once_and_first() -> None:
    """Reconnecting does not stack wrappers, and a user's execute_wrapper() block still pops its own."""
    db.instrument(connection)
    db.instrument(connection)
    assert connection.execute_wrappers.count(db.observe_query) == 1
    seen: list[str] = []

    def mine(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(mine):
        db.instrument(connection)  # as if connection_created fired inside the block
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert seen == ["SELECT 1"]
    assert mine not in connection.execute_wrappers
    assert db.observe_query in connection.execute_wrappers


@pytest.mark.django_db(transaction=True)
def test_new_connections_are_instrumented() -> None:
    """connection_created instruments a connection opened after start-up (here: a new thread's)."""
    found: list[bool] = []

    def in_thread() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
            found.append(db.observe_query in connections["default"].execute_wrappers)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(timeout=30)
    assert found == [True]


def test_alias_comes_from_the_connection() -> None:
    """The wrapper labels each query with the alias of the connection that ran it."""

    class FakeConnection:
        alias = "replica"

    result = db.observe_query(lambda *args: "rows", "SELECT 1", None, False, {"connection": FakeConnection()})
    assert result == "rows"
    assert _queries("replica") == 1
    assert _queries("default") == 0


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_postgres_queries_are_counted() -> None:
    """On the PostgreSQL named by DATABASE_URL, queries and failed queries are counted."""
    require_postgres()
    assert connection.vendor == "postgresql", "DATABASE_URL is set, so the default alias is PostgreSQL"
    before = _queries()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 2")
    assert _queries() == before + 2
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_for_lantern")
    assert value("django_db_query_errors_total", {"alias": "default"}) == 1
