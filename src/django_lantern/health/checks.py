"""The public place for every readiness check: the base class, its error, and the database, cache and callable checks.

A check's ``run()`` returns on success and raises on failure. ``CheckFailed``
carries a message that is safe to show in the ``/readyz`` body; any other
exception is logged and reported generically, so a host name, SQL text or a
traceback never reaches the body.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django.core.cache import caches

from django_lantern.health._base import CheckFailed, ReadinessCheck
from django_lantern.health._database import DatabaseCheck
from django_lantern.health._redis_client import bounded_client
from django_lantern.metrics.cache import uncounted

__all__ = ["CacheCheck", "CallableCheck", "CheckFailed", "DatabaseCheck", "ReadinessCheck"]


class CacheCheck(ReadinessCheck):
    """Set, get and delete a unique key on one cache alias.

    On Django's ``RedisCache`` through a client of the check's own whose waits
    are bounded by the check's budget (see ``health/_redis_client.py``).
    """

    kind = "cache"

    def __init__(self, alias: str) -> None:
        super().__init__(f"cache:{alias}")
        self.alias = alias
        self._redis: Any = None

    def prepare(self) -> None:
        # Importing redis-py takes about 0.4 s: done here, before the first
        # attempt's clock starts, not inside its budget.
        if self._redis is None:
            self._redis = bounded_client(caches[self.alias], self.budget) or False

    def run(self) -> None:
        cache = caches[self.alias]
        key = f"lantern:readyz:{uuid.uuid4().hex}"
        self.prepare()
        if self._redis:
            self._run_redis(self._redis, cache.make_and_validate_key(key))
            return
        # The probe's traffic is not the application's: kept out of its cache metrics.
        with uncounted():
            cache.set(key, "1", timeout=5)
            try:
                if cache.get(key) != "1":
                    raise CheckFailed("value not read back")
            finally:
                cache.delete(key)

    def _run_redis(self, client: Any, key: str) -> None:
        try:
            client.set(key, b"1", px=5000)
            try:
                if client.get(key) != b"1":
                    raise CheckFailed("value not read back")
            finally:
                client.delete(key)
        except CheckFailed:
            raise
        except Exception:
            # A timed-out connection may hold half a reply: never reuse it.
            client.connection_pool.disconnect()
            raise

    def close(self) -> None:
        if self._redis:
            with contextlib.suppress(Exception):
                self._redis.connection_pool.disconnect()


class CallableCheck(ReadinessCheck):
    """Wraps a plain function listed in ``READINESS_CHECKS``."""

    def __init__(self, name: str, func: object) -> None:
        super().__init__(name)
        self.func = func

    def run(self) -> None:
        self.func()  # type: ignore[operator]
