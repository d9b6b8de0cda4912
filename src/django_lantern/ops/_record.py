"""The page's recording: in-memory buffers on the request path, one flush thread per process.

On the request path only rare events are recorded (an unhandled exception, a
request slower than ``SLOW_REQUEST_MS``, a ``lantern.db`` insight record), each
by a dict update or a deque append under a lock held for microseconds. The
totals and the per-minute history cost the request nothing: they are read from
the metrics registry the middleware already writes.

The flush thread (started lazily, once per process, again after a fork) wakes
every ``FLUSH_SECONDS``: it writes what was buffered as one batch, its
heartbeat, and, once a minute and for one process per host, the host's
snapshot of the metrics. A cache that fails or hangs delays only this thread;
the buffers are bounded, so what does not fit is counted as dropped.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from django_lantern import _taps
from django_lantern._errors import report_internal_error
from django_lantern.conf import get_settings
from django_lantern.context import current
from django_lantern.metrics._process_start import process_start
from django_lantern.ops import _snapshot, _store
from django_lantern.scrubbing import scrub_text
from django_lantern.scrubbing._cut import capped
from django_lantern.scrubbing._cut import truncate as cut

FLUSH_SECONDS = 5.0
INSIGHT_LOGGER = "lantern.db"
# Bounds per process between two flushes (and so per batch).
MAX_GROUPS = 100
MAX_IDS = 5
MAX_SLOW = 20
MAX_TEXT = 500
MAX_SQL = 1000
MAX_ID = 200

Group = dict[str, Any]


class Buffer:
    """What this process saw since its last flush."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exceptions: dict[tuple[str, str], Group] = {}
        self.insights: dict[tuple[str, str, str], Group] = {}
        self.slow: deque[dict[str, Any]] = deque(maxlen=MAX_SLOW)
        self.dropped = 0

    def group(self, table: dict[Any, Group], key: Any, fields: dict[str, Any], now: float, request_id: str) -> None:
        with self.lock:
            found = table.get(key)
            if found is None:
                if len(table) >= MAX_GROUPS:
                    self.dropped += 1
                    return
                found = table[key] = {**fields, "count": 0, "first": now, "last": now, "ids": []}
            found["count"] += 1
            found["last"] = now
            ids = found["ids"]
            if request_id and request_id not in ids:
                ids.append(request_id)
                del ids[:-MAX_IDS]
            for name in ("n", "db_ms"):  # an insight keeps its worst reading
                if name in fields and fields[name] > found.get(name, 0):
                    found[name] = fields[name]

    def take(self) -> dict[str, Any] | None:
        with self.lock:
            if not (self.exceptions or self.insights or self.slow or self.dropped):
                return None
            taken = {
                "exceptions": list(self.exceptions.values()),
                "insights": list(self.insights.values()),
                "slow": list(self.slow),
                "dropped": self.dropped,
            }
            self.exceptions, self.insights, self.dropped = {}, {}, 0
            self.slow.clear()
        return taken


buffer = Buffer()


def _ids() -> tuple[str, str]:
    ctx = current.get()
    if ctx is None:
        return "", "-"
    return cut(str(ctx.request_id), MAX_ID), cut(str(ctx.route), MAX_TEXT)


def on_exception(exc: BaseException) -> None:
    request_id, route = _ids()
    kind = cut(f"{type(exc).__module__}.{type(exc).__qualname__}", MAX_TEXT)
    buffer.group(buffer.exceptions, (kind, route), {"type": kind, "route": route}, time.time(), request_id)
    ensure_flushing()


def on_slow_request(method: str, route: str, status: int, seconds: float) -> None:
    request_id, _ = _ids()
    buffer.slow.append(
        {
            "at": time.time(),
            "method": cut(method, 20),
            "route": cut(route, MAX_TEXT),
            "status": status,
            "ms": round(seconds * 1000, 1),
            "id": request_id,
        }
    )
    ensure_flushing()


def _text(value: object, limit: int) -> str:
    return capped(str(value), limit, scrub_text) if value is not None else ""


class InsightHandler(logging.Handler):
    """Collects ``lantern.db``'s N+1 and slow-query WARNING records (by their ``insight`` field)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            insight = getattr(record, "insight", None)
            extra: dict[str, float]
            if insight == "n_plus_one":
                shape, extra = _text(getattr(record, "fingerprint", None), MAX_SQL), {"n": _int(record, "count")}
            elif insight == "slow_query":
                shape, extra = _text(getattr(record, "sql", None), MAX_SQL), {"db_ms": _number(record, "db_ms")}
            else:
                return
            # lantern.db's records carry neither: the request or task they belong to is the current context's.
            current_id, current_route = _ids()
            route = _text(getattr(record, "route", None) or current_route, MAX_TEXT)
            callsite = _text(getattr(record, "callsite", None), MAX_TEXT)
            request_id = cut(str(getattr(record, "request_id", None) or current_id), MAX_ID)
            fields = {"insight": insight, "shape": shape, "route": route, "callsite": callsite, **extra}
            buffer.group(buffer.insights, (insight, shape, route), fields, record.created, request_id)
            ensure_flushing()
        except Exception as exc:  # a handler never raises into the caller's log call
            report_internal_error("ops_insight", exc)


def _int(record: logging.LogRecord, name: str) -> int:
    value = getattr(record, name, 0)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _number(record: logging.LogRecord, name: str) -> float:
    value = getattr(record, name, 0.0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


# -- the process's flush thread ---------------------------------------------
class _Flusher:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.last_minute = -1
        self.last_heartbeat = 0.0
        self.last_error: str | None = None


flusher = _Flusher()


def _forked() -> None:
    # The parent's events are the parent's to flush; the child starts its own thread when it records.
    global buffer
    buffer = Buffer()
    flusher.thread, flusher.lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forked)


def host() -> str:
    return cut(socket.gethostname(), 100)


def ensure_flushing() -> None:
    """Start this process's flush thread if it is not running (cheap when it is)."""
    if flusher.thread is not None and flusher.pid == os.getpid():
        return
    with flusher.lock:
        if flusher.thread is not None and flusher.pid == os.getpid():
            return
        flusher.pid = os.getpid()
        flusher.thread = threading.Thread(target=_loop, name="lantern-ops-flush", daemon=True)
        flusher.thread.start()


def _loop() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush()


def flush(now: float | None = None) -> None:
    """One round: the batch, the heartbeat, the minute's snapshot. Never raises."""
    now = time.time() if now is None else now
    try:
        backend = _store.cache()
    except Exception as exc:
        report_internal_error("ops_flush", exc)
        return
    try:
        taken = buffer.take()
        if taken is not None:
            taken.update(host=host(), pid=os.getpid(), at=now)
            _store.write_batch(backend, taken)
        if now - flusher.last_heartbeat >= _store.HEARTBEAT_SECONDS / 2:
            _heartbeat(backend, now)
        minute = int(now // 60)
        if minute != flusher.last_minute:
            flusher.last_minute = minute
            _snapshot_minute(backend, minute)
        flusher.last_error = None
    except Exception as exc:  # the cache is down: try again next round, the buffer is bounded
        flusher.last_error = type(exc).__name__
        report_internal_error("ops_flush", exc)


def _heartbeat(backend: Any, now: float) -> None:
    name, pid = host(), os.getpid()
    _store.put(
        backend,
        _store.process_key(name, pid),
        {"host": name, "pid": pid, "start": process_start(), "seen": now},
        _store.HEARTBEAT_SECONDS * 2,
    )
    _store.remember(backend, _store.PROCESSES, _store.process_key(name, pid))
    flusher.last_heartbeat = now


def _snapshot_minute(backend: Any, minute: int) -> None:
    name = host()
    if not _store.claim(backend, _store.claim_key(name, minute)):
        return  # another process of this host took this minute
    small, routes = _snapshot.split(_snapshot.take())
    _store.put(backend, _store.routes_key(name, minute), routes)
    _store.put(backend, _store.snapshot_key(name, minute), small)
    _store.remember(backend, _store.HOSTS, name)


# -- plugging in --------------------------------------------------------------
_handler = InsightHandler()


def _threshold(**kwargs: object) -> None:
    """The slow-request threshold, read again when ``LANTERN`` changes (``override_settings``)."""
    if kwargs.get("setting", "LANTERN") != "LANTERN" or _taps.slow_request is None:
        return
    try:
        slow = get_settings().slow_request_ms
    except ImproperlyConfigured:  # said where the settings are read; the threshold stays as it was
        return
    _taps.slow_after = float("inf") if slow is None else slow / 1000


def start() -> None:
    """Record for the page in this process: the taps, the ``lantern.db`` handler, the flush thread."""
    _taps.exception = on_exception
    _taps.slow_request = on_slow_request
    _threshold()
    setting_changed.connect(_threshold, dispatch_uid="lantern-ops-threshold")
    logger = logging.getLogger(INSIGHT_LOGGER)
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
    ensure_flushing()
