"""Where run-time log level overrides live: state every process of the app already shares.

One small record, ``{"version": n, "overrides": {logger: {...}}}``, kept in
Django's default cache when that cache is shared between processes (Redis,
Memcached, the database cache, a file cache: anything but the local-memory and
dummy caches, which live inside one process), else in a JSON file in
``PROMETHEUS_MULTIPROC_DIR``, the directory the workers of one host already
share for their metrics. With neither, there is no store: a change could only
reach the process that made it.

Writers change the record under a lock (``cache.add`` of a lock key, or
``flock`` on a lock file) so that two operators at once do not lose each
other's change; readers (every process's poller) read it without one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

CACHE_KEY = "lantern:loglevels"
LOCK_KEY = "lantern:loglevels:lock"
FILE_NAME = "lantern-loglevels.json"
LOCK_NAME = "lantern-loglevels.lock"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LOCK_SECONDS = 10  # a writer that died holding the cache lock blocks others at most this long
LOCK_WAIT = 5.0


# Wraps the pollers' cache reads. The metrics layer sets it at start-up (apps.py) so that they are
# not counted as the application's cache traffic; this layer may not import it.
read_context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext


class LevelChangeError(ValueError):
    """A change that cannot be made; the message names the value and the fix."""


@dataclass(frozen=True)
class Override:
    """One logger's level, until an absolute (wall-clock) time."""

    logger: str
    level: int
    expires_at: float
    set_by: str
    set_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "expires_at": self.expires_at, "set_by": self.set_by, "set_at": self.set_at}


@dataclass(frozen=True)
class Record:
    """Every override, and how many changes the record has seen."""

    version: int = 0
    overrides: Mapping[str, Override] = field(default_factory=dict)

    def active(self, now: float) -> dict[str, Override]:
        return {name: o for name, o in self.overrides.items() if o.expires_at > now}

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "overrides": {n: o.to_dict() for n, o in self.overrides.items()}}


def _override(name: Any, raw: Any) -> Override | None:
    """One entry of a stored record, or None if it is not one we wrote."""
    if not isinstance(name, str) or not isinstance(raw, Mapping):
        return None
    level, expires, by, at = raw.get("level"), _time(raw.get("expires_at")), raw.get("set_by"), _time(raw.get("set_at"))
    if type(level) is not int or not 1 <= level <= 50 or expires is None or at is None or not isinstance(by, str):
        return None
    return Override(name, level, expires, by, at)


def _time(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) and math.isfinite(value) else None


def decode(raw: Any) -> Record:
    """The record from what a store held; entries that are not ours are left out."""
    if not isinstance(raw, Mapping):
        return Record()
    version = raw.get("version")
    entries = raw.get("overrides")
    overrides = {}
    if isinstance(entries, Mapping):
        for name, value in entries.items():
            parsed = _override(name, value)
            if parsed is not None:
                overrides[parsed.logger] = parsed
    return Record(version if type(version) is int else 0, overrides)


class Store(Protocol):
    description: str

    def read(self) -> Record | None:
        """The record, None when there is none; raises when the store cannot be read."""

    def update(self, change: Callable[[Record], Record], now: float) -> Record:
        """Replace the record by ``change(record)`` under the writers' lock; returns the new one."""


def _ttl(record: Record, now: float) -> int:
    """Seconds the cache keeps the record: until its last override expires."""
    latest = max((o.expires_at for o in record.overrides.values()), default=now)
    return max(1, math.ceil(latest - now))


class CacheStore:
    """The record in a Django cache shared by every process (``caches[alias]``).

    A poller (``dedicated``) reads through a backend instance of its own, made once from the
    settings of its start: its one thread uses it for the life of the process, and nothing the
    application does to ``caches`` later (closing connections, a test's ``override_settings``)
    reaches it. A writer uses the application's ``caches[alias]``.
    """

    def __init__(self, alias: str, *, dedicated: bool = False) -> None:
        from django.core.cache import caches

        self.alias = alias
        self._own = caches.create_connection(alias) if dedicated else None
        self.description = f"cache {alias!r} ({type(self._own or caches[alias]).__name__})"

    def _cache(self) -> Any:
        from django.core.cache import caches

        return self._own if self._own is not None else caches[self.alias]

    def read(self) -> Record | None:
        with read_context():
            raw = self._cache().get(CACHE_KEY)
        return None if raw is None else decode(raw)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        cache, token = self._cache(), uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_WAIT
        while not cache.add(LOCK_KEY, token, LOCK_SECONDS):
            if time.monotonic() > deadline:
                raise LevelChangeError(
                    f"another log level change holds the lock ({self.description}, key {LOCK_KEY!r}); "
                    f"try again in {LOCK_SECONDS} s."
                )
            time.sleep(0.05)
        try:
            yield
        finally:
            if cache.get(LOCK_KEY) == token:
                cache.delete(LOCK_KEY)

    def update(self, change: Callable[[Record], Record], now: float) -> Record:
        with self._locked():
            cache = self._cache()
            new = change(decode(cache.get(CACHE_KEY)))
            if new.overrides:
                cache.set(CACHE_KEY, new.to_dict(), _ttl(new, now))
            else:
                cache.delete(CACHE_KEY)
            return new


class FileStore:
    """The record in a JSON file in the directory the workers of one host share."""

    def __init__(self, directory: str) -> None:
        self.path = Path(directory) / FILE_NAME
        self.description = f"file {self.path} (PROMETHEUS_MULTIPROC_DIR: processes on this host only)"

    def read(self) -> Record | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return decode(json.loads(text))

    def _lock(self, lock: Any) -> None:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LevelChangeError(
                        f"another log level change holds the lock ({lock.name}); try again."
                    ) from None
                time.sleep(0.05)

    def update(self, change: Callable[[Record], Record], now: float) -> Record:
        if not self.path.parent.is_dir():
            raise LevelChangeError(
                f"{MULTIPROC_ENV} is {os.fspath(self.path.parent)!r}, which is not a directory; "
                "set it to the directory the server's workers use."
            )
        with open(self.path.parent / LOCK_NAME, "a") as lock:
            self._lock(lock)
            try:
                current = self.read() or Record()
            except ValueError:  # a file we did not write: start again
                current = Record()
            new = change(current)
            # Written whole and renamed: a reader sees the old record or the new one, never half.
            temporary = self.path.with_name(f".{FILE_NAME}.{os.getpid()}")
            temporary.write_text(json.dumps(new.to_dict()), encoding="utf-8")
            os.replace(temporary, self.path)
            return new


def cache_is_per_process(alias: str = "default") -> bool:
    """Whether ``caches[alias]`` lives inside one process (local memory, dummy).

    Told by its ``BACKEND``, without opening it: a cache opened here would stay in
    the calling thread's ``caches`` (a server's request thread, for the poller's
    start), and Django's ``request_finished`` would then close it after every
    request that thread serves.
    """
    from django.core.cache import caches
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache
    from django.utils.module_loading import import_string

    backend = import_string(caches.settings[alias]["BACKEND"])
    return isinstance(backend, type) and issubclass(backend, (LocMemCache, DummyCache))


def resolve_store(*, dedicated: bool = False) -> Store | None:
    """The shared cache, else the multi-process directory, else None (see the module docstring);
    ``dedicated``: a cache backend of the store's own (``CacheStore``)."""
    from django.conf import settings
    from django.core.cache import DEFAULT_CACHE_ALIAS

    if DEFAULT_CACHE_ALIAS in getattr(settings, "CACHES", {}) and not cache_is_per_process(DEFAULT_CACHE_ALIAS):
        return CacheStore(DEFAULT_CACHE_ALIAS, dedicated=dedicated)
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        return FileStore(directory)
    return None


NO_STORE = (
    "the log level change cannot reach the server processes: CACHES['default'] is a per-process cache "
    "(local memory or dummy) and PROMETHEUS_MULTIPROC_DIR is not set. Configure a shared cache "
    "(Redis, Memcached or the database cache) as CACHES['default'], or set PROMETHEUS_MULTIPROC_DIR "
    "to the directory the server's workers use (one host only); see docs/logging.md."
)
