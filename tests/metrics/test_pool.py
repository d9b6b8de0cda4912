"""Pool metrics for Django's psycopg 3 pool, read at scrape time, against the real PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client

from django_lantern.metrics._pool import PoolCollector
from tests.conftest import extra_databases
from tests.helpers.services import require_postgres
from tests.metrics.conftest import parse, promtool_check_metrics, value

ALIAS = "pooled"
WAIT = 20.0  # bound on every poll below


def _pool_settings() -> dict[str, Any]:
    default = connections.settings["default"]
    return {
        **default,
        "NAME": connections["default"].settings_dict["NAME"],  # the test database
        "CONN_MAX_AGE": 0,
        "OPTIONS": {**default.get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": 2, "timeout": 0.6}},
    }


@contextlib.contextmanager
def pooled_alias(blocker: Any) -> Iterator[None]:
    with extra_databases(blocker, **{ALIAS: _pool_settings()}):
        try:
            yield
        finally:
            connections[ALIAS].close_pool()  # type: ignore[attr-defined]


class Holder(threading.Thread):
    """Takes a connection from the pool (a Django connection in its own thread) and holds it."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.acquired = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connections[ALIAS].cursor() as cursor:
                cursor.execute("SELECT 1")
            self.acquired.set()
            self.release.wait(WAIT)
        except BaseException as exc:
            self.error = exc
            self.acquired.set()
        finally:
            connections[ALIAS].close()  # gives the connection back to the pool


def pool(name: str, **labels: str) -> float:
    return value(f"django_db_pool_{name}", {"alias": ALIAS, **labels})


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_pool_size_use_waiting_and_wait_time(django_db_blocker: Any, client: Client, tmp_path: Path) -> None:
    """Two held connections fill a pool of 2: used=2, idle=0; a third request waits (pending=1),
    times out (one request error, one failed Django connection) and its wait time is summed."""
    require_postgres()
    with pooled_alias(django_db_blocker):
        holders = [Holder(), Holder()]
        try:
            for holder in holders:
                holder.start()
                assert holder.acquired.wait(WAIT) and holder.error is None, holder.error
            assert pool("connections", state="used") == 2
            assert pool("connections", state="idle") == 0
            assert pool("max_connections") == 2 and pool("min_connections") == 1

            outcome: list[BaseException] = []

            def waiter() -> None:
                try:
                    connections[ALIAS].ensure_connection()
                except OperationalError as exc:  # psycopg_pool.PoolTimeout, wrapped by Django
                    outcome.append(exc)
                finally:
                    connections[ALIAS].close()

            third = threading.Thread(target=waiter, daemon=True)
            third.start()
            wait_until(lambda: pool("pending_requests") == 1, "the third request to wait")
            third.join(WAIT)
            assert len(outcome) == 1
            assert pool("request_errors_total") == 1
            assert pool("requests_queued_total") >= 1
            assert pool("wait_seconds_total") >= 0.5  # it waited out the 0.6 s timeout
            assert value("django_db_new_connection_errors_total", {"alias": ALIAS}) == 1
        finally:
            for holder in holders:
                holder.release.set()
                holder.join(WAIT)
        wait_until(lambda: pool("connections", state="used") == 0, "the connections to come back")
        # psycopg_pool drops a timed-out waiter from its queue when a connection comes back.
        assert pool("pending_requests") == 0
        assert pool("connections", state="idle") >= 1
        assert pool("requests_total") >= 3

        scrape = client.get("/metrics").content.decode()
        samples = parse(scrape)
        assert ({"alias": ALIAS, "state": "idle"}, pool("connections", state="idle")) in samples[
            "django_db_pool_connections"
        ]
        result = promtool_check_metrics(scrape)
        assert result.returncode == 0, result.stdout + result.stderr


def test_no_pool_no_series() -> None:
    """Without a pooled alias the collector adds nothing to a scrape (not even empty families)."""
    assert list(PoolCollector("").collect()) == []


def test_per_process_series_carry_the_pid() -> None:
    """Multi-process mode: each worker's pool is its own series, so counters never mix."""
    import os

    stats = {"pool_size": 3, "pool_available": 1, "pool_max": 4, "requests_wait_ms": 1500, "requests_num": 9}
    families = {f.name: f for f in PoolCollector("shop", per_process=True)._families([("default", stats)])}
    used = [s for s in families["shop_django_db_pool_connections"].samples if s.labels["state"] == "used"]
    assert used[0].labels == {"alias": "default", "pid": str(os.getpid()), "state": "used"}
    assert used[0].value == 2
    (wait,) = families["shop_django_db_pool_wait_seconds"].samples
    assert wait.name == "shop_django_db_pool_wait_seconds_total" and wait.value == 1.5
