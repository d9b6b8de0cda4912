"""Database query metrics: counted by alias through one wrapper per connection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections
from django.test import override_settings

from django_lantern.metrics import _db as db
from django_lantern.metrics import _families as families
from django_lantern.metrics import _recorder as recorder
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
    conn = connections["default"]
    ours = db.instrument(conn)
    assert db.instrument(conn) is ours
    assert ours is not None and conn.execute_wrappers.count(ours) == 1
    seen: list[str] = []

    def mine(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with conn.execute_wrapper(mine):
        db.instrument(conn)  # as if connection_created fired inside the block
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert seen == ["SELECT 1"]
    assert mine not in conn.execute_wrappers
    assert conn.execute_wrappers.count(ours) == 1


@pytest.mark.django_db(transaction=True)
def test_new_connections_are_instrumented() -> None:
    """connection_created instruments a connection opened after start-up (here: a new thread's)."""
    found: list[bool] = []

    def in_thread() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
            conn = connections["default"]
            found.append(db.current_wrapper(conn) in conn.execute_wrappers)
        finally:
            connections["default"].close()

    before = _queries()
    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(timeout=30)
    assert found == [True]
    assert _queries() == before + 1


class FakeConnection:
    """Enough of a connection for ``instrument``: an alias and a wrapper list."""

    vendor = "sqlite"
    settings_dict: dict[str, Any] = {}

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.execute_wrappers: list[Any] = []


def _run(conn: FakeConnection, sql: str = "SELECT 1") -> Any:
    """A query through the connection's wrappers, as Django chains them."""
    (wrapper,) = conn.execute_wrappers
    return wrapper(lambda *args: "rows", sql, None, False, {"connection": conn})


def test_alias_comes_from_the_connection() -> None:
    """The wrapper labels each query with the alias of the connection it was built for."""
    conn = FakeConnection("replica")
    db.instrument(conn)
    assert _run(conn) == "rows"
    assert _queries("replica") == 1
    assert _queries("default") == 0


def test_each_alias_gets_its_own_children() -> None:
    """A new alias gets a wrapper of its own; connections of one alias share one."""
    first, second, other = FakeConnection("primary"), FakeConnection("primary"), FakeConnection("analytics")
    for conn in (first, second, other):
        db.instrument(conn)
    assert db.current_wrapper(first) is db.current_wrapper(second)
    assert db.current_wrapper(other) is not db.current_wrapper(first)
    _run(first)
    _run(second)
    _run(other)
    assert _queries("primary") == 2
    assert _queries("analytics") == 1
    assert value("django_db_query_errors_total", {"alias": "analytics"}) == 0


def test_wrappers_follow_override_settings() -> None:
    """A settings change reaches connections already instrumented: the next query
    rebinds them, so the cached children follow METRICS_NAMESPACE and METRICS_ENABLED."""
    conn = FakeConnection("replica")
    db.instrument(conn)
    _run(conn)
    with override_settings(LANTERN={"METRICS_NAMESPACE": "shop"}):
        _run(conn)
        _run(conn)
        assert value("shop_django_db_query_duration_seconds_count", {"alias": "replica"}) == 2
        assert _queries("replica") == 0  # the unprefixed family is gone with the old settings
    with override_settings(LANTERN={"METRICS_ENABLED": False}):
        _run(conn)
        # Metrics off, query insights on (the default): one wrapper for the scope's cost and the insights.
        assert [w.__name__ for w in conn.execute_wrappers] == ["lantern_query_metrics"]
        assert _queries("replica") == 0
    off = {"METRICS_ENABLED": False, "N_PLUS_ONE": None, "SLOW_QUERY_MS": None}
    with override_settings(LANTERN=off):
        _run(conn)
        # Metrics, spans and insights off: the scope's cost only (the access line says it).
        assert conn.execute_wrappers == [db._cost_wrapper]
    _run(conn)
    assert _queries("replica") == 1


def test_families_reset_reaches_open_connections() -> None:
    """Families rebuilt without a settings change (a test's reset) retire the wrappers too."""
    conn = FakeConnection("replica")
    db.instrument(conn)
    families.get_families.cache_clear()
    recorder._state.cache_clear()
    _run(conn)
    assert _queries("replica") == 1


@pytest.mark.django_db
def test_failed_query_is_timed_and_counted() -> None:
    """A failing query is observed in the histogram as well as counted as an error."""
    before = _queries()
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_for_lantern")
    assert _queries() == before + 1


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


def test_a_failure_to_instrument_never_fails_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """connection_created with a broken wrapper build: counted as an internal error, the
    connection counted as opened, and its first query after the fault instruments it."""
    conn = FakeConnection("replica")

    def broken() -> Any:
        raise RuntimeError("no wrappers")

    with monkeypatch.context() as patch:
        patch.setattr(db, "_wrappers", broken)
        db._on_connection_created(None, conn)  # type: ignore[arg-type]
    assert value("lantern_internal_errors_total", {"where": "db_metrics"}) == 1
    assert value("django_db_new_connections_total", {"alias": "replica"}) == 1
    assert conn.execute_wrappers == [db._rebind]
    assert _run(conn) == "rows"
    assert _queries("replica") == 1
    assert db.current_wrapper(conn) in conn.execute_wrappers
