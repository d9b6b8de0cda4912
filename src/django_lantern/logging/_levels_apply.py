"""Every server process applies the shared log level overrides, off the request path.

Two daemon threads per process, each a sleep loop waking once a second:

- ``lantern-loglevels-fetch`` reads the record from the store and applies it at
  once, so a change reaches the process within about a second. A store that
  fails is reported once (``lantern_internal_errors_total``) and the last
  record read stays in force;
- ``lantern-loglevels`` applies the last record read against the clock, so an
  override ends on time even while the store hangs (a cache without a socket
  timeout can block the fetch for minutes).

Started by the first request a server hands Django (``request_started`` from
a WSGI or ASGI handler; the test client's is not one), by gunicorn's
``post_worker_init``, by the ASGI lifespan's start-up (``health.asgi``) and by Celery's ``worker_process_init`` and
``worker_ready``; again after a fork, whose child has no threads. A process
with nothing to read (no shared cache, no ``PROMETHEUS_MULTIPROC_DIR``) starts
nothing. Requests never wait for any of it.

:class:`Applier` holds what this process changed: the level each logger had
before its first override, restored when the override ends; one INFO line on
``django_lantern.logging`` per change in this process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.core.signals import request_started

from django_lantern._errors import report_internal_error
from django_lantern.logging._levels import MAX_SECONDS, _logger, level_name
from django_lantern.logging._levels_store import Override, Record, Store, resolve_store
from django_lantern.logging._record_parts import rfc3339

logger = logging.getLogger("django_lantern.logging")

INTERVAL = 1.0
# No change lasts more than a day (``_levels.MAX_SECONDS``); an entry ending later was not written by
# ``set_level`` (someone else with access to the cache) and is ignored. The slack covers hosts' clocks.
LONGEST = MAX_SECONDS + 300


class Applier:
    """The overrides in force in this process, and the levels they replaced."""

    def __init__(self) -> None:
        self.applied: dict[str, Override] = {}
        self.originals: dict[str, int] = {}
        self.lock = threading.Lock()

    def sync(self, overrides: Mapping[str, Override], now: float) -> None:
        """Make this process's levels those of the overrides still in force at ``now``."""
        wanted = {name: o for name, o in overrides.items() if now < o.expires_at <= now + LONGEST}
        with self.lock:
            for name in [n for n in self.applied if n not in wanted]:
                self._restore(name, now)
            for override in wanted.values():
                self._apply(override)

    def _apply(self, override: Override) -> None:
        target = _logger(override.logger)
        if self.applied.get(override.logger) == override:
            if target.level != override.level:  # a logging reconfiguration undid it
                target.setLevel(override.level)
            return
        self.originals.setdefault(override.logger, target.level)
        target.setLevel(override.level)
        self.applied[override.logger] = override
        logger.info(
            "log level of %s is %s in this process until %s (set by %s)",
            override.logger,
            level_name(override.level),
            rfc3339(override.expires_at),
            override.set_by,
            extra={"target_logger": override.logger, "new_level": level_name(override.level), "pid": os.getpid()},
        )

    def _restore(self, name: str, now: float) -> None:
        ended = self.applied.pop(name)
        original = self.originals.pop(name, logging.NOTSET)
        _logger(name).setLevel(original)
        why = "expired" if ended.expires_at <= now else "reset"
        logger.info(
            "log level of %s is back to %s in this process (override %s)",
            name,
            level_name(original),
            why,
            extra={"target_logger": name, "new_level": level_name(original), "pid": os.getpid()},
        )


class Poller:
    """The two threads of one process (see the module docstring)."""

    def __init__(
        self, store: Store, applier: Applier, clock: Callable[[], float] = time.time, interval: float = INTERVAL
    ) -> None:
        self.store = store
        self.applier = applier
        self.clock = clock
        self.interval = interval
        self.record = Record()

    def fetch_once(self) -> None:
        try:
            record = self.store.read()
        except Exception as exc:  # the last record read stays in force; its overrides still end on time
            report_internal_error("loglevels_read", exc)
            return
        finally:
            _close_thread_connections()
        self.record = record if record is not None else Record()
        self.tick()

    def tick(self) -> None:
        try:
            self.applier.sync(self.record.overrides, self.clock())
        except Exception as exc:
            report_internal_error("loglevels_apply", exc)

    def start(self) -> None:
        for target, name in ((self._fetch_loop, "lantern-loglevels-fetch"), (self._clock_loop, "lantern-loglevels")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _fetch_loop(self) -> None:
        while True:
            self.fetch_once()
            time.sleep(self.interval)

    def _clock_loop(self) -> None:
        while True:
            time.sleep(self.interval)
            self.tick()


def _close_thread_connections() -> None:
    """A database cache opens a connection in the fetch thread: kept or closed as ``CONN_MAX_AGE`` says."""
    from django.db import close_old_connections

    with contextlib.suppress(Exception):
        close_old_connections()


_applier = Applier()
_started = False
_start_lock = threading.Lock()
# ``apps.py`` connects :func:`on_request_started` under this uid; the receiver disconnects
# itself once a server's first request has started the poller, so that no later request calls it.
REQUEST_STARTED_UID = "django_lantern.loglevels"
_stopped_listening = False


def _forget_threads() -> None:
    # A forked child has no threads; what was applied (and the levels it replaced) is inherited and stays.
    global _started, _start_lock, _stopped_listening
    _started = False
    _start_lock = threading.Lock()
    _applier.lock = threading.Lock()
    if _stopped_listening:
        # Its first request starts its own poller again. A signal lock still held here
        # belongs to a thread the fork left behind: connecting would wait forever (as would
        # the child's every request_started), so that child is left as it is.
        lock = request_started.lock
        if lock.acquire(blocking=False):
            lock.release()
            request_started.connect(on_request_started, dispatch_uid=REQUEST_STARTED_UID)
            _stopped_listening = False


os.register_at_fork(after_in_child=_forget_threads)


def ensure_running() -> None:
    """Start this process's poller, if it has a store and has not started it yet; never raises."""
    global _started
    if _started:
        return
    with _start_lock:
        if _started:
            return
        _started = True
        try:
            store = resolve_store(dedicated=True)
            if store is not None:
                Poller(store, _applier).start()
        except Exception as exc:
            report_internal_error("loglevels_start", exc)


def on_request_started(sender: Any = None, **_: Any) -> None:
    """``request_started``: a server's first request starts the poller, then stops listening."""
    global _stopped_listening
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    if isinstance(sender, type) and issubclass(sender, (WSGIHandler, ASGIHandler)):
        ensure_running()
        if request_started.disconnect(dispatch_uid=REQUEST_STARTED_UID):
            _stopped_listening = True


def on_worker_start(**_: Any) -> None:
    """Celery's ``worker_process_init`` and ``worker_ready``, gunicorn's ``post_worker_init``."""
    ensure_running()
