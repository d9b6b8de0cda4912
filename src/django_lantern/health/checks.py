"""Readiness checks: a small base class and the built-in database and cache checks.

A check's ``run()`` returns on success and raises on failure. ``CheckFailed``
carries a message that is safe to show in the ``/readyz`` body; any other
exception is logged and reported generically, so a host name, SQL text or a
traceback never reaches the body.
"""

from __future__ import annotations

import contextlib
import uuid

from django.core.cache import caches
from django.db import connections

__all__ = ["CacheCheck", "CallableCheck", "CheckFailed", "DatabaseCheck", "ReadinessCheck"]


class CheckFailed(Exception):
    """Raise from ``run()`` with a short, public reason (no hosts, no secrets)."""


class ReadinessCheck:
    """Subclass and implement ``run()``. ``name`` appears in the body's ``checks``."""

    #: ``db``, ``cache`` or ``custom``: the body's summary key it counts towards.
    kind = "custom"
    #: Seconds; ``None`` means ``LANTERN["READINESS_TIMEOUT"]``.
    timeout: float | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``run()`` keeps between runs; called in the worker thread when it stops."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class DatabaseCheck(ReadinessCheck):
    """``SELECT 1`` on one database alias, in the check's own thread.

    Django connections are per thread, so the worker thread that runs this
    check keeps its own connection, subject to the alias's ``CONN_MAX_AGE``.
    A failed check closes it, so the next probe reconnects: after a database
    restart, readiness recovers on the next probe.
    """

    kind = "db"

    def __init__(self, alias: str) -> None:
        super().__init__(f"db:{alias}")
        self.alias = alias

    def run(self) -> None:
        connection = connections[self.alias]
        try:
            connection.close_if_unusable_or_obsolete()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            # Honour CONN_MAX_AGE after the run too, as Django does at the end of a
            # request: with the default of 0 the connection is closed now, instead of
            # idling until the next probe (an idle session in this thread also makes
            # the test runner's DROP DATABASE fail on PostgreSQL).
            connection.close_if_unusable_or_obsolete()
        except Exception:
            with contextlib.suppress(Exception):
                connection.close()
            raise

    def close(self) -> None:
        # A connection kept under CONN_MAX_AGE > 0 would otherwise stay open
        # after the runner is replaced (settings change, tests), and keep the
        # server session (and a test database) busy.
        connections[self.alias].close()


class CacheCheck(ReadinessCheck):
    """Set, get and delete a unique key on one cache alias."""

    kind = "cache"

    def __init__(self, alias: str) -> None:
        super().__init__(f"cache:{alias}")
        self.alias = alias

    def run(self) -> None:
        cache = caches[self.alias]
        key = f"lantern:readyz:{uuid.uuid4().hex}"
        cache.set(key, "1", timeout=5)
        try:
            if cache.get(key) != "1":
                raise CheckFailed("value not read back")
        finally:
            cache.delete(key)


class CallableCheck(ReadinessCheck):
    """Wraps a plain function listed in ``READINESS_CHECKS``."""

    def __init__(self, name: str, func: object) -> None:
        super().__init__(name)
        self.func = func

    def run(self) -> None:
        self.func()  # type: ignore[operator]
