"""Instrumented cache backends: one BACKEND swap, hits and misses by alias, no double counting."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import override_settings

from django_lantern.metrics import cache as instrumented
from tests.helpers.services import require_redis
from tests.metrics.conftest import value


def ops(alias: str, operation: str, result: str) -> float:
    return value("django_cache_operations_total", {"alias": alias, "operation": operation, "result": result})


def _exercise(alias: str) -> None:
    """The same sequence on every backend; the counts below must come out identical."""
    cache = caches[alias]
    key = f"lantern-metrics-{uuid.uuid4().hex}"
    assert cache.get(key) is None  # miss
    assert cache.get(key, "fallback") == "fallback"  # miss, default returned
    cache.set(key, None)  # a stored None is a hit, not a miss
    assert cache.get(key, "fallback") is None  # hit
    cache.set(key, 1)
    assert cache.get(key) == 1  # hit
    assert cache.get_many([key, key + "-absent"]) == {key: 1}  # 1 hit + 1 miss
    assert cache.has_key(key)  # hit
    assert cache.incr(key) == 2
    with pytest.raises(ValueError):
        cache.incr(key + "-absent")  # a miss, re-raised
    assert cache.add(key, 5) is False
    cache.delete(key)
    assert cache.get_or_set(key, 7) == 7  # Django's own get (miss), add, get (hit)
    cache.delete_many([key])


def _assert_counts(alias: str) -> None:
    assert ops(alias, "get", "miss") == 3
    assert ops(alias, "get", "hit") == 3
    assert ops(alias, "get_many", "hit") == 1
    assert ops(alias, "get_many", "miss") == 1
    assert ops(alias, "has_key", "hit") == 1
    assert ops(alias, "set", "ok") == 2
    assert ops(alias, "incr", "ok") == 1
    assert ops(alias, "incr", "miss") == 1
    assert ops(alias, "add", "ok") == 2
    assert ops(alias, "delete", "ok") == 1
    assert ops(alias, "delete_many", "ok") == 1
    # get_many on LocMem is get() per key and DatabaseCache.get is get_many(): only the outer call counts.
    assert ops(alias, "get", "error") == 0


def test_locmem() -> None:
    """LocMemCache: one line swap, hits and misses under the CACHES alias."""
    backend = "django_lantern.metrics.cache.LocMemCache"
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": "lantern-metrics-locmem"}}):
        assert caches["default"].lantern_alias == "default"
        _exercise("default")
        _assert_counts("default")


def test_alias_is_found_among_several() -> None:
    """Two instrumented caches are told apart by their CACHES entries."""
    backend = "django_lantern.metrics.cache.LocMemCache"
    config = {
        "default": {"BACKEND": backend, "LOCATION": "a"},
        "sessions": {"BACKEND": backend, "LOCATION": "b", "TIMEOUT": 60},
    }
    with override_settings(CACHES=config):
        assert caches["sessions"].lantern_alias == "sessions"
        caches["sessions"].get("x")
        assert ops("sessions", "get", "miss") == 1
        assert ops("default", "get", "miss") == 0


def test_alias_unknown_when_built_by_hand() -> None:
    """A backend constructed outside CACHES reports alias `unknown` and still works."""
    cache = instrumented.LocMemCache("by-hand", {})
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert ops("unknown", "get", "hit") == 1


def test_errors_are_counted_and_reraised(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend failure is counted as `error` and raised unchanged."""
    backend = "django_lantern.metrics.cache.LocMemCache"
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": "errors"}}):
        cache = caches["default"]

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("cache down")

        monkeypatch.setattr("django.core.cache.backends.locmem.LocMemCache.get", broken)
        with pytest.raises(ConnectionError):
            cache.get("k")
        assert ops("default", "get", "error") == 1
        # The guard is released after an error: the next call is counted again.
        monkeypatch.undo()
        cache.get("k")
        assert ops("default", "get", "miss") == 1


@pytest.fixture
def database_cache() -> Iterator[str]:
    backend = "django_lantern.metrics.cache.DatabaseCache"
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": "lantern_metrics_cache"}}):
        call_command("createcachetable", verbosity=0)
        yield "default"


@pytest.mark.django_db
def test_database_cache(database_cache: str) -> None:
    """DatabaseCache: get() is get_many() inside Django, yet each call counts once."""
    _exercise(database_cache)
    _assert_counts(database_cache)


@pytest.mark.services
def test_redis_cache() -> None:
    """RedisCache against the real Redis; keys are unique and prefixed, nothing is flushed."""
    url = require_redis()
    prefix = os.environ.get("LANTERN_CACHE_PREFIX", "metrics-helper")
    config = {
        "BACKEND": "django_lantern.metrics.cache.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": prefix,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    with override_settings(CACHES={"default": config}):
        assert caches["default"].lantern_alias == "default"
        _exercise("default")
        _assert_counts("default")


def _family_total() -> float:
    from prometheus_client import REGISTRY

    return sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "django_cache_operations"
        for s in m.samples
        if s.name.endswith("_total")
    )


@pytest.mark.django_db
@pytest.mark.parametrize("backend", ["locmem", pytest.param("redis", marks=pytest.mark.services)])
def test_readiness_probes_are_not_application_cache_traffic(client: Any, backend: str) -> None:
    """A /readyz probe sets, reads and deletes a key on each cache: none of it is counted, so probes
    cannot skew the application's hit ratio; the application's own operations still are."""
    if backend == "redis":
        config = {
            "BACKEND": "django_lantern.metrics.cache.RedisCache",
            "LOCATION": require_redis(),
            "KEY_PREFIX": os.environ.get("LANTERN_CACHE_PREFIX", "metrics-helper"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    else:
        config = {"BACKEND": "django_lantern.metrics.cache.LocMemCache", "LOCATION": "lantern-probe-traffic"}
    with override_settings(CACHES={"default": config}, LANTERN={"READINESS_CACHE_SECONDS": 0}):
        before = _family_total()
        for _ in range(3):
            response = client.get("/readyz")
            assert response.status_code == 200 and response.json()["cache"] == "ok"
        assert _family_total() == before
        caches["default"].get("lantern-probe-traffic-app-key")
        assert _family_total() == before + 1
