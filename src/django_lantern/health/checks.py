"""Readiness checks: a small base class and the built-in database and cache checks.

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

from django_lantern.health.redis_client import bounded_client

__all__ = ["CacheCheck", "CallableCheck", "CheckFailed", "DatabaseCheck", "ReadinessCheck"]


class CheckFailed(Exception):
    """Raise from ``run()`` with a short, public reason (no hosts, no secrets)."""


class ReadinessCheck:
    """Subclass and implement ``run()``. ``name`` appears in the body's ``checks``."""

    #: ``db``, ``cache`` or ``custom``: the body's summary key it counts towards.
    kind = "custom"
    #: Seconds; ``None`` means ``LANTERN["READINESS_TIMEOUT"]``.
    timeout: float | None = None
    #: The timeout the runner enforces for this check (set by the runner).
    budget: float = 0.5
    #: False: a failure is reported in the body but never turns ``/readyz`` 503
    #: (also set by ``LANTERN["READINESS_NON_CRITICAL"]``).
    critical: bool = True
    #: The name a class listed in ``READINESS_CHECKS`` gets; ``None``: ``custom:<ClassName>``.
    check_name: str | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``run()`` keeps between runs; called in the worker thread when it stops."""

    def prepare(self) -> None:
        """Called once, before the first attempt's deadline is set: slow one-off set-up goes here."""

    def interrupt(self) -> None:
        """Unblock a ``run()`` that outlived its deadline; called from another thread, at most once per run.

        The built-in database check shuts its socket down. The default does
        nothing: the attempt stays in flight, probes report "timeout" without
        waiting for it, and a new attempt starts once it returns.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class CacheCheck(ReadinessCheck):
    """Set, get and delete a unique key on one cache alias.

    On Django's ``RedisCache`` through a client of the check's own whose waits
    are bounded by the check's budget (see ``health/redis_client.py``).
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
            self._run_redis(cache, self._redis, cache.make_and_validate_key(key))
            return
        cache.set(key, "1", timeout=5)
        try:
            if cache.get(key) != "1":
                raise CheckFailed("value not read back")
        finally:
            cache.delete(key)

    def _run_redis(self, cache: Any, client: Any, key: str) -> None:
        try:
            client.set(key, b"1", px=5000)
            _counted(cache, "set", "ok")
            try:
                found = client.get(key)
                _counted(cache, "get", "hit" if found is not None else "miss")
                if found != b"1":
                    raise CheckFailed("value not read back")
            finally:
                client.delete(key)
                _counted(cache, "delete", "ok")
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


def _counted(cache: Any, operation: str, result: str) -> None:
    """Count an operation the check made past the cache, as the instrumented backend would have."""
    alias = getattr(cache, "lantern_alias", None)
    if alias is None:
        return
    try:
        from django_lantern.metrics import recorder

        recorder.cache_operation(alias, operation, result, 1)
    except Exception:  # metrics never fail a check
        return


class CallableCheck(ReadinessCheck):
    """Wraps a plain function listed in ``READINESS_CHECKS``."""

    def __init__(self, name: str, func: object) -> None:
        super().__init__(name)
        self.func = func

    def run(self) -> None:
        self.func()  # type: ignore[operator]


# The database check lives in its own module (it manages a connection of its
# own); it stays importable from here, the public place for every check. At
# the bottom: that module imports ReadinessCheck from this one.
from django_lantern.health.database import DatabaseCheck  # noqa: E402
