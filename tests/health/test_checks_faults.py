"""The built-in checks against real PostgreSQL and Redis behind a loopback fault proxy.

A black hole (tests/helpers/fault_proxy.py) leaves the check's open connection
silent: the case where a read on an open connection waits until the kernel
gives up, about 15 minutes. Bounds asserted here are deadlines, not benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import override_settings

from django_lantern.health._database import DatabaseCheck
from django_lantern.health._runner import ReadinessRunner
from django_lantern.health.checks import CacheCheck
from tests.conftest import extra_databases
from tests.helpers.fault_proxy import FaultProxy
from tests.helpers.services import require_postgres, require_redis

MARGIN = 2.0  # slack over a deadline on a loaded box: a bound, not a benchmark

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, databases=["default"]),
]


@pytest.fixture
def pg_proxy() -> Iterator[FaultProxy]:
    url = require_postgres()
    with FaultProxy(urlsplit(url).port or 5432) as proxy:
        yield proxy


@pytest.fixture
def redis_proxy() -> Iterator[FaultProxy]:
    url = require_redis()
    with FaultProxy(urlsplit(url).port or 6379) as proxy:
        yield proxy


def _proxied_alias(port: int, **extra: Any) -> dict[str, Any]:
    default = connections["default"].settings_dict
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": default["NAME"],  # the test database
        "USER": default["USER"],
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 10},
        **extra,
    }


def test_interrupt_frees_a_check_stuck_on_a_silent_connection(pg_proxy: FaultProxy, django_db_blocker: Any) -> None:
    """A query on the check's kept connection goes silent; interrupt() ends it at once instead of ~15 minutes."""
    # One thread runs the check throughout, as the runner's worker does: Django's connections are per thread.
    worker = ThreadPoolExecutor(max_workers=1)
    with extra_databases(django_db_blocker, proxied=_proxied_alias(pg_proxy.port)):
        check = DatabaseCheck("proxied")
        try:
            worker.submit(check.run).result(timeout=10)  # connects; CONN_MAX_AGE=60 keeps the connection
            pg_proxy.black_hole()
            stuck = worker.submit(check.run)
            with pytest.raises(FutureTimeout):
                stuck.result(timeout=0.5)  # the query is stuck on the silent connection
            interrupted = time.monotonic()
            check.interrupt()
            assert stuck.exception(timeout=MARGIN) is not None, "interrupt() did not end the stuck query"
            assert time.monotonic() - interrupted < MARGIN
            pg_proxy.forward()
            worker.submit(check.run).result(timeout=10)  # a new connection: the check works again
        finally:
            worker.submit(check.close).result(timeout=10)
            worker.shutdown()


def test_ready_again_after_a_black_hole_with_persistent_connections(
    pg_proxy: FaultProxy, django_db_blocker: Any
) -> None:
    """Through the runner: 503 while black-holed, 200 on the first probe after the restore even though the
    check's old connection stays silent (its flow is lost)."""
    with extra_databases(django_db_blocker, proxied=_proxied_alias(pg_proxy.port)):
        check = DatabaseCheck("proxied")
        runner = ReadinessRunner([check], 0.3)
        try:
            assert runner.run()[0].ok
            pg_proxy.black_hole()
            assert runner.run()[0].error == "timeout"
            pg_proxy.forward()  # the silenced connection stays silent
            deadline = time.monotonic() + 0.3 + MARGIN
            while not runner.run()[0].ok:
                assert time.monotonic() < deadline, "not ready again after the restore"
                time.sleep(0.05)
        finally:
            runner.stop()


def test_database_check_is_one_round_trip(django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With CONN_HEALTH_CHECKS and a kept connection, the check sends its SELECT 1 only: Django's
    is_usable() query (a second round trip that can hang the same way) is never sent."""
    require_postgres()
    health_queries: list[int] = []
    original = DatabaseWrapper.is_usable

    def counted(self: DatabaseWrapper) -> bool:
        health_queries.append(1)
        return original(self)

    monkeypatch.setattr(DatabaseWrapper, "is_usable", counted)
    default = connections["default"].settings_dict
    alias = {**default, "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    with extra_databases(django_db_blocker, kept=alias), ThreadPoolExecutor(max_workers=1) as worker:
        check = DatabaseCheck("kept")
        try:
            for _ in range(3):
                worker.submit(check.run).result(timeout=10)
        finally:
            worker.submit(check.close).result(timeout=10)
    assert health_queries == []


@pytest.mark.parametrize("options", [{}, {"socket_timeout": 30, "socket_connect_timeout": 30}])
def test_redis_check_is_bounded_by_its_budget(redis_proxy: FaultProxy, options: dict[str, Any]) -> None:
    """A black-holed Redis ends the check within its budget, whatever the cache's OPTIONS (none: redis-py's
    defaults, 5: wait forever, 8: 5 s and retries; or long ones)."""
    location = f"redis://127.0.0.1:{redis_proxy.port}/{urlsplit(require_redis()).path.lstrip('/') or 0}"
    alias = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location, "OPTIONS": options}
    with override_settings(CACHES={**settings.CACHES, "proxied": alias}):
        check = CacheCheck("cache:proxied")
        check.alias = "proxied"
        check.budget = 0.3
        try:
            check.run()
            redis_proxy.black_hole()
            started = time.monotonic()
            with pytest.raises(Exception, match=r"(?i)timeout|timed out"):
                check.run()
            assert time.monotonic() - started < 0.3 + MARGIN
            redis_proxy.forward()
            check.run()
        finally:
            check.close()
