"""Instrumented cache backends: swap one ``BACKEND`` line to count hits and misses.

    CACHES = {"default": {"BACKEND": "django_lantern.metrics.cache.RedisCache", ...}}

Each class is Django's own backend with the public operations counted in
``django_cache_operations_total{alias, operation, result}``; ``result`` is
``hit``/``miss`` for look-ups (``get``, ``get_many`` per key, ``has_key``),
``ok`` for everything else, and ``error`` when the backend raised (the error
is re-raised unchanged).

Only the outermost operation counts: Django's backends call each other
(``DatabaseCache.get`` calls ``get_many``, ``BaseCache.get_many`` calls
``get`` per key, ``incr`` is ``get`` + ``set`` on some backends), so a
thread-local flag marks "already counting" and inner calls pass straight
through. That keeps one ``cache.get()`` one count on every backend.

The readiness probe's own set, get and delete (``health/checks.py``) run
inside :func:`uncounted`: probe traffic is not the application's, and counted
it would skew the hit ratio by the probe rate.

The cache alias is not passed to a backend, so it is found once, at
construction, by matching the backend's own location and parameters against
``settings.CACHES``; ``unknown`` when nothing matches.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache.backends import db, filebased, locmem, redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from django_lantern._errors import report_internal_error
from django_lantern.context import UNKNOWN_LABEL, current
from django_lantern.metrics import _recorder as recorder

__all__ = ["DatabaseCache", "FileBasedCache", "InstrumentedCacheMixin", "LocMemCache", "RedisCache"]

HIT, MISS, OK, ERROR = "hit", "miss", "ok", "error"

_MISSING = object()
_local = threading.local()
T = TypeVar("T")


def find_alias(backend: type[BaseCache], location: Any, params: dict[str, Any]) -> str:
    """The ``CACHES`` alias whose entry built this backend (see the module docstring)."""
    path = f"{backend.__module__}.{backend.__qualname__}"
    for alias, conf in getattr(settings, "CACHES", {}).items():
        if conf.get("BACKEND") != path or conf.get("LOCATION", "") != location:
            continue
        rest = {k: v for k, v in conf.items() if k not in ("BACKEND", "LOCATION")}
        if rest == params:
            return str(alias)
    return UNKNOWN_LABEL


@contextlib.contextmanager
def uncounted() -> Iterator[None]:
    """Cache operations in this block and thread are not counted: lantern's own traffic (the
    readiness probe's check, the log level pollers' once-a-second reads) is not the application's."""
    previous = getattr(_local, "busy", False)
    _local.busy = True
    try:
        yield
    finally:
        _local.busy = previous


def _count(alias: str, operation: str, result: str, amount: int = 1) -> None:
    try:
        recorder.cache_operation(alias, operation, result, amount)
        # The scope's cost (``_cost.py``) counts look-ups, whatever the metrics settings.
        if (result is HIT or result is MISS) and (ctx := current.get()) is not None:
            if result is HIT:
                ctx.cost.cache_hits += amount
            else:
                ctx.cost.cache_misses += amount
    except Exception as exc:
        report_internal_error("cache_metrics", exc)


class InstrumentedCacheMixin(BaseCache):
    """Counts the operations of the Django backend it is mixed in front of."""

    lantern_alias: str = UNKNOWN_LABEL

    def __init__(self, location: Any, params: dict[str, Any]) -> None:
        super().__init__(location, params)  # type: ignore[call-arg]
        try:
            self.lantern_alias = find_alias(type(self), location, params)
        except Exception as exc:  # an odd CACHES entry must not break the cache
            report_internal_error("cache_alias", exc)

    def _counted(
        self,
        operation: str,
        call: Callable[[], T],
        result: str = OK,
        miss_on: tuple[type[Exception], ...] = (),
    ) -> T:
        """Run ``call`` as one counted operation; ``result=""`` leaves counting to the caller."""
        if getattr(_local, "busy", False):
            return call()
        _local.busy = True
        try:
            value = call()
        except miss_on:
            _count(self.lantern_alias, operation, MISS)
            raise
        except Exception:
            _count(self.lantern_alias, operation, ERROR)
            raise
        finally:
            _local.busy = False
        if result:
            _count(self.lantern_alias, operation, result)
        return value

    def get(self, key: Any, default: Any | None = None, version: int | None = None) -> Any:
        if getattr(_local, "busy", False):
            return super().get(key, default, version)
        _local.busy = True
        try:
            value = super().get(key, _MISSING, version)
        except Exception:
            _count(self.lantern_alias, "get", ERROR)
            raise
        finally:
            _local.busy = False
        if value is _MISSING:
            _count(self.lantern_alias, "get", MISS)
            return default
        _count(self.lantern_alias, "get", HIT)
        return value

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        if getattr(_local, "busy", False):
            return super().get_many(keys, version)
        keys = list(keys)  # counted below, so an iterator must not be consumed twice
        found = self._counted("get_many", lambda: super(InstrumentedCacheMixin, self).get_many(keys, version), "")
        hits = len(found)
        _count(self.lantern_alias, "get_many", HIT, hits)
        _count(self.lantern_alias, "get_many", MISS, len(set(keys)) - hits)
        return found

    def has_key(self, key: Any, version: int | None = None) -> bool:
        if getattr(_local, "busy", False):
            return super().has_key(key, version)
        present = self._counted("has_key", lambda: super(InstrumentedCacheMixin, self).has_key(key, version), "")
        _count(self.lantern_alias, "has_key", HIT if present else MISS)
        return present

    def set(self, key: Any, value: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._counted("set", lambda: super(InstrumentedCacheMixin, self).set(key, value, timeout, version))

    def add(self, key: Any, value: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._counted("add", lambda: super(InstrumentedCacheMixin, self).add(key, value, timeout, version))

    def touch(self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._counted("touch", lambda: super(InstrumentedCacheMixin, self).touch(key, timeout, version))

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._counted("delete", lambda: super(InstrumentedCacheMixin, self).delete(key, version))

    def set_many(
        self, data: dict[Any, Any], timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        return self._counted("set_many", lambda: super(InstrumentedCacheMixin, self).set_many(data, timeout, version))

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._counted("delete_many", lambda: super(InstrumentedCacheMixin, self).delete_many(keys, version))

    # Django raises ValueError from incr/decr for a missing key: a miss, not a fault.
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        call = lambda: super(InstrumentedCacheMixin, self).incr(key, delta, version)  # noqa: E731
        return self._counted("incr", call, miss_on=(ValueError,))

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        call = lambda: super(InstrumentedCacheMixin, self).decr(key, delta, version)  # noqa: E731
        return self._counted("decr", call, miss_on=(ValueError,))

    def clear(self) -> None:
        self._counted("clear", lambda: super(InstrumentedCacheMixin, self).clear())


class LocMemCache(InstrumentedCacheMixin, locmem.LocMemCache):
    """``django.core.cache.backends.locmem.LocMemCache``, counted."""


class RedisCache(InstrumentedCacheMixin, redis.RedisCache):
    """``django.core.cache.backends.redis.RedisCache``, counted."""


class DatabaseCache(InstrumentedCacheMixin, db.DatabaseCache):
    """``django.core.cache.backends.db.DatabaseCache``, counted."""


class FileBasedCache(InstrumentedCacheMixin, filebased.FileBasedCache):
    """``django.core.cache.backends.filebased.FileBasedCache``, counted."""
