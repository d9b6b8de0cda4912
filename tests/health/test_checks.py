"""Readiness against real PostgreSQL and Redis, and against servers that hang or are down.

The "black hole" is a TCP server on 127.0.0.1 that accepts connections and never
answers: the failure mode that hangs a naive ``SELECT 1`` forever. The timing
assertions here are upper bounds on the probe deadline, not benchmarks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.test import Client, override_settings

from tests.conftest import BlackHole, closed_port, extra_databases
from tests.helpers.services import require_postgres, require_redis

TIMEOUT = 0.3
# Generous slack over the configured timeout: a bound, not a benchmark.
MARGIN = 2.0

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, databases=["default"]),
]


@pytest.fixture
def black_holes() -> Iterator[Callable[[], BlackHole]]:
    """Make as many black-hole servers as a test needs; all are closed at teardown."""
    made: list[BlackHole] = []

    def make() -> BlackHole:
        server = BlackHole()
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def _postgres_alias(port: int) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "lantern_unreachable",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # Long enough that only the package's own timeout can end the probe.
        "OPTIONS": {"connect_timeout": 10},
    }


def _redis_alias(port: int) -> dict[str, Any]:
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"}


def _timed_get(client: Client, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_ready_with_real_postgres_and_redis(client: Client) -> None:
    """With the real PostgreSQL and Redis, /readyz is 200 with db and cache ok."""
    require_postgres()
    require_redis()
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    # The example counts cache operations with django-lantern's subclass of Django's RedisCache.
    assert isinstance(caches["default"], DjangoRedisCache)
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready" and body["db"] == "ok" and body["cache"] == "ok"
    assert body["checks"]["db:default"]["ok"] and body["checks"]["cache:default"]["ok"]


def test_hung_database_gives_503_within_the_timeout(
    client: Client, black_holes: Callable[[], BlackHole], django_db_blocker: Any
) -> None:
    """A PostgreSQL alias that accepts and never answers: 503 within READINESS_TIMEOUT, db down, "timeout"."""
    hole = black_holes()
    with (
        extra_databases(django_db_blocker, blackhole=_postgres_alias(hole.port)),
        override_settings(LANTERN={"READINESS_TIMEOUT": TIMEOUT}),
    ):
        response, elapsed = _timed_get(client, "/readyz")
        assert response.status_code == 503
        assert elapsed < TIMEOUT + MARGIN
        body = response.json()
        assert body["status"] == "not_ready" and body["db"] == "down"
        assert body["checks"]["db:blackhole"] == {
            "ok": False,
            "ms": body["checks"]["db:blackhole"]["ms"],
            "error": "timeout",
        }
        assert body["checks"]["db:default"]["ok"] is True
        assert hole.connections >= 1  # the check really reached the server
        healthz, _ = _timed_get(client, "/healthz")
        assert healthz.status_code == 200


def test_hung_redis_gives_503_within_the_timeout(client: Client, black_holes: Callable[[], BlackHole]) -> None:
    """A Redis cache alias that accepts and never answers: 503 within READINESS_TIMEOUT, cache down, "timeout"."""
    hole = black_holes()
    caches = {**settings.CACHES, "blackhole": _redis_alias(hole.port)}
    with override_settings(CACHES=caches, LANTERN={"READINESS_TIMEOUT": TIMEOUT}):
        response, elapsed = _timed_get(client, "/readyz")
        assert response.status_code == 503
        assert elapsed < TIMEOUT + MARGIN
        body = response.json()
        assert body["status"] == "not_ready" and body["cache"] == "down"
        assert body["checks"]["cache:blackhole"]["error"] == "timeout"
        assert body["checks"]["cache:default"]["ok"] is True
        assert client.get("/healthz").status_code == 200


def test_stopped_database_gives_503_without_details(client: Client, django_db_blocker: Any) -> None:
    """A PostgreSQL alias on a closed port: 503, and no host, port, SQL or traceback in the body."""
    port = closed_port()
    with (
        extra_databases(django_db_blocker, stopped=_postgres_alias(port)),
        override_settings(LANTERN={"READINESS_TIMEOUT": 1.0}),
    ):
        response, elapsed = _timed_get(client, "/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert elapsed < 1.0 + MARGIN
    body = response.json()
    assert body["db"] == "down" and body["checks"]["db:stopped"]["error"] in ("unavailable", "timeout")
    text = response.content.decode()
    for leaked in ("127.0.0.1", str(port), "SELECT", "Traceback", "psycopg", "refused", "postgres"):
        assert leaked not in text


def test_stopped_redis_gives_503_without_details(client: Client) -> None:
    """A Redis alias on a closed port: 503 with cache down, and no host or port in the body."""
    port = closed_port()
    caches = {**settings.CACHES, "stopped": _redis_alias(port)}
    with override_settings(CACHES=caches, LANTERN={"READINESS_TIMEOUT": 1.0}):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["cache"] == "down"
    text = response.content.decode()
    assert "127.0.0.1" not in text and str(port) not in text and "redis" not in text.lower().replace("cache:", "")


def test_concurrent_probes_keep_one_check_in_flight(
    black_holes: Callable[[], BlackHole], django_db_blocker: Any
) -> None:
    """Many concurrent probes against hung dependencies open one connection each, not one per probe."""
    db_hole, cache_hole = black_holes(), black_holes()
    caches = {**settings.CACHES, "blackhole": _redis_alias(cache_hole.port)}
    statuses: list[int] = []
    lock = threading.Lock()

    def probe(client: Client) -> None:
        response = client.get("/readyz")
        with lock:
            statuses.append(response.status_code)

    with (
        extra_databases(django_db_blocker, blackhole=_postgres_alias(db_hole.port)),
        override_settings(CACHES=caches, LANTERN={"READINESS_TIMEOUT": TIMEOUT}),
    ):
        for _ in range(3):  # three waves, each outliving the timeout
            # Clients (and so the middleware chain, WhiteNoise's scan of
            # STATIC_ROOT included) are built before the wave, not inside it.
            clients = [Client() for _ in range(40)]
            threads = [threading.Thread(target=probe, args=(c,)) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=TIMEOUT + MARGIN + 5)
        assert Client().get("/healthz").status_code == 200
    assert statuses == [503] * 120
    # At most one attempt (one connection) per wave, never one per probe: a
    # slow machine may let a wave start after the shared verdict expired.
    assert 1 <= db_hole.connections <= 3
    assert 1 <= cache_hole.connections <= 3


def test_stopping_the_runner_leaves_no_database_session(client: Client) -> None:
    """A probe's kept connection (CONN_MAX_AGE > 0) is closed when the runner stops; no session lingers."""
    require_postgres()
    from django.db import connection

    from tests.conftest import stop_readiness_workers

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return int(cursor.fetchone()[0])

    before = sessions()
    with override_settings(LANTERN={"READINESS_CACHES": []}):
        assert client.get("/readyz").status_code == 200
        stop_readiness_workers()
    # A closed session leaves pg_stat_activity when its backend has exited,
    # a few milliseconds after the client closed it: poll, bounded.
    deadline = time.monotonic() + 5
    while sessions() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sessions() <= before
