"""What the page keeps in the configured Django cache, so every worker and pod shares it.

Nothing here is a read-modify-write that loses data under concurrency:

- recent records go in numbered batches (``batch:<n>``), the number taken
  from the cache's atomic ``incr``; the page reads the newest ``MAX_BATCHES``;
- each host writes its own per-minute snapshot (``snap:<host>:<minute>``, and
  its per-route part apart, ``routes:<host>:<minute>``, read only for the two
  ends of the hour); one process per host wins the minute with ``add``;
- each process writes its own heartbeat (``proc:<host>:<pid>``).

The two indexes (hosts, processes) are rewritten by whoever is missing from
them, so a lost update heals at the next flush. Every entry expires: the cache
never holds more than about an hour of the page's data.

Every call here is made off the request path (the flush thread) or by the page
itself, whose reads run under a deadline (``bounded``): a hung cache makes the
page say so; it never holds a request of the application.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from django_lantern.conf import get_settings
from django_lantern.metrics.cache import uncounted

PREFIX = "lantern:ops:"
SEQUENCE = PREFIX + "seq"
HOSTS = PREFIX + "hosts"
PROCESSES = PREFIX + "procs"
HOUR = 3600
KEEP_SECONDS = HOUR + 300
HEARTBEAT_SECONDS = 60
# The newest batches the page reads. A batch is written only when a process saw
# something (at most one per worker every few seconds), so in a flood this is
# the last minutes, otherwise the hour; it bounds the page's read.
MAX_BATCHES = 150
MAX_INDEX = 200
PAGE_DEADLINE = 2.0

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The cache did not answer (an error, or no answer within the deadline)."""


def batch_key(number: int) -> str:
    return f"{PREFIX}batch:{number}"


def snapshot_key(host: str, minute: int) -> str:
    return f"{PREFIX}snap:{host}:{minute}"


def routes_key(host: str, minute: int) -> str:
    return f"{PREFIX}routes:{host}:{minute}"


def claim_key(host: str, minute: int) -> str:
    return f"{PREFIX}claim:{host}:{minute}"


def process_key(host: str, pid: int) -> str:
    return f"{PREFIX}proc:{host}:{pid}"


# Room for an hour of one process's records and snapshots.
_PRIVATE_ENTRIES = 2 * (MAX_BATCHES + 3 * 62 + MAX_INDEX)
_private: BaseCache | None = None


def cache() -> BaseCache:
    """The configured cache; in place of a local-memory one, a local-memory cache of the page's own.

    A local-memory cache is this process's anyway, so the page loses nothing,
    and its entries never evict the application's (``MAX_ENTRIES`` is shared).
    """
    global _private
    configured = caches[get_settings().ops_cache]
    if not isinstance(configured, LocMemCache):
        return configured
    if _private is None:
        _private = LocMemCache("lantern-ops", {"OPTIONS": {"MAX_ENTRIES": _PRIVATE_ENTRIES}})
    return _private


def scope(backend: BaseCache) -> str:
    """``"shared"``, ``"process"`` (local memory: this process only) or ``"none"`` (the dummy cache)."""
    if isinstance(backend, DummyCache):
        return "none"
    if isinstance(backend, LocMemCache):
        return "process"
    return "shared"


def write_batch(backend: BaseCache, payload: dict[str, Any]) -> None:
    with uncounted():
        backend.add(SEQUENCE, 0, None)
        try:
            number = backend.incr(SEQUENCE)
        except ValueError:  # evicted between add and incr
            backend.add(SEQUENCE, 0, None)
            number = backend.incr(SEQUENCE)
        backend.set(batch_key(number), payload, KEEP_SECONDS)


def read_batches(backend: BaseCache) -> list[dict[str, Any]]:
    with uncounted():
        newest = backend.get(SEQUENCE)
        if not isinstance(newest, int) or newest <= 0:
            return []
        keys = [batch_key(n) for n in range(max(1, newest - MAX_BATCHES + 1), newest + 1)]
        found = backend.get_many(keys)
    return [found[k] for k in keys if isinstance(found.get(k), dict)]


def remember(backend: BaseCache, index: str, member: str) -> None:
    """Put ``member`` in the index list ``index`` (bounded, newest kept) if it is missing."""
    with uncounted():
        members = backend.get(index)
        members = list(members) if isinstance(members, list) else []
        if member in members:
            return
        members.append(member)
        backend.set(index, members[-MAX_INDEX:], KEEP_SECONDS)


def read_index(backend: BaseCache, index: str) -> list[str]:
    with uncounted():
        found = backend.get(index)
    return [m for m in found if isinstance(m, str)] if isinstance(found, list) else []


def get_many(backend: BaseCache, keys: list[str]) -> dict[str, Any]:
    with uncounted():
        return backend.get_many(keys)


def claim(backend: BaseCache, key: str) -> bool:
    with uncounted():
        return bool(backend.add(key, 1, KEEP_SECONDS))


def put(backend: BaseCache, key: str, value: Any, timeout: float = KEEP_SECONDS) -> None:
    with uncounted():
        backend.set(key, value, timeout)


_pool_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def bounded(call: Callable[[], T], deadline: float = PAGE_DEADLINE) -> T:
    """``call()`` on a helper thread, given up after ``deadline`` seconds (``CacheUnavailable``).

    A call that hangs keeps its helper thread until the cache's own socket
    timeout ends it; the page answers meanwhile. The pool is small, so a hung
    cache costs at most its few threads.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="lantern-ops-read")
        pool = _pool
    future = pool.submit(call)
    try:
        return future.result(timeout=deadline)
    except concurrent.futures.TimeoutError:
        raise CacheUnavailable(f"no answer within {deadline:g} s") from None
    except Exception as exc:
        raise CacheUnavailable(type(exc).__name__) from exc
