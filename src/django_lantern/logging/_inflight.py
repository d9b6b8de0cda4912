"""The ``lantern.inflight`` lines: the requests a server is about to kill, and those running too long.

``report_in_flight`` writes one CRITICAL line per request in flight, with
``request_id``, ``route``, ``elapsed_ms`` and ``stack`` (``metrics/_threads.py``),
then waits for the log handlers to write them: the default handler writes
from a thread of its own, and the process is about to end. Called by
gunicorn's ``worker_abort`` (``django_lantern.gunicorn``) and when uvicorn's
graceful shutdown times out (``watch_uvicorn_shutdown``).

With ``LANTERN["STUCK_REQUEST_MS"]`` set, a watcher thread writes one WARNING
with the stack per request still running past that time; with it unset the
thread is never started and nothing is added to any request.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from types import FrameType

from django_lantern._errors import report_internal_error
from django_lantern.context import current
from django_lantern.logging._attached import attached_handlers
from django_lantern.metrics._threads import InFlight, in_flight, request_stack

LOGGER = "lantern.inflight"
logger = logging.getLogger(LOGGER)

# What uvicorn logs on ``uvicorn.error`` just before it cancels the tasks still running
# (``Server.shutdown`` with ``--timeout-graceful-shutdown``): the one moment it says it gives up.
_UVICORN_GIVES_UP = "timeout graceful shutdown exceeded"


def _line(item: InFlight, level: int, message: str, frames: dict[int, FrameType], skip: FrameType | None) -> None:
    extra = {"elapsed_ms": item.elapsed_ms, "stack": request_stack(item, frames, skip)}
    # In the request's context, so the filter puts its request_id, route, method, path and user on
    # the line, as on its other lines (an explicit request_id would make the filter skip the rest).
    token = current.set(item.ctx)
    try:
        logger.log(level, message, item.request_id, item.elapsed_ms, extra=extra)
    finally:
        current.reset(token)


def flush_handlers() -> None:
    """Wait for every attached handler to write what it holds (each within its own bound)."""
    for handler in attached_handlers():
        try:
            handler.flush()
        except Exception as exc:  # one broken handler must not keep the others' lines in
            report_internal_error("inflight", exc)


def report_in_flight(reason: str, skip: FrameType | None = None) -> int:
    """One CRITICAL line per request in flight, written out before returning; how many.

    ``skip``: in the caller's own thread, the frame the request's stack starts
    from (a signal handler runs on top of the request it interrupted).
    """
    frames = sys._current_frames()
    found = in_flight(frames)
    for item in found:
        try:
            _line(item, logging.CRITICAL, "request %s still running after %.0f ms: " + reason, frames, skip)
        except Exception as exc:  # the next request's line still matters
            report_internal_error("inflight", exc)
    if found:
        flush_handlers()
    return len(found)


class _UvicornGivesUp(logging.Filter):
    """On ``uvicorn.error``: reports the requests in flight when uvicorn's graceful shutdown times out.

    uvicorn logs that it cancels the remaining tasks and then cancels them; a
    cancelled request leaves the registry, so this runs at the log call, while
    every stack is still where it was stuck. Passes every record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and _UVICORN_GIVES_UP in str(record.msg):
            report_in_flight("uvicorn's graceful shutdown timed out")
        return True


_UVICORN_FILTER = _UvicornGivesUp()


def watch_uvicorn_shutdown() -> None:
    """Attach the filter that notices uvicorn giving up (once; called at start-up, ``apps.py``)."""
    server_logger = logging.getLogger("uvicorn.error")
    if _UVICORN_FILTER not in server_logger.filters:
        server_logger.addFilter(_UVICORN_FILTER)


class _Watcher:
    """One daemon thread per process: a WARNING per request running past ``threshold_ms``, once."""

    def __init__(self) -> None:
        self.threshold_ms: float | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def start(self, threshold_ms: float | None) -> None:
        if threshold_ms is None:
            return
        with self._lock:
            self.threshold_ms = threshold_ms
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            thread = threading.Thread(target=self._run, name="lantern-stuck-requests", daemon=True)
            thread.start()

    def _restart_after_fork(self) -> None:
        # Threads do not survive a fork (gunicorn --preload): the child starts its own.
        self._lock = threading.Lock()
        if self._pid:
            self._pid = 0
            self.start(self.threshold_ms)

    def _run(self) -> None:
        warned: set[object] = set()
        while True:
            threshold = self.threshold_ms or 0.0
            # Often enough that a warning comes at most a quarter of the threshold late; at most once a second.
            self._wake.wait(min(max(threshold / 4000, 0.05), 1.0))
            try:
                warned = self.check(threshold, warned)
            except Exception as exc:  # the watcher must outlive one bad round
                report_internal_error("inflight", exc)

    @staticmethod
    def check(threshold_ms: float, warned: set[object]) -> set[object]:
        """Warn about each request past ``threshold_ms`` not warned about yet; those past it, still running."""
        frames = sys._current_frames()
        still: set[object] = set()
        for item in in_flight(frames, threshold_ms):
            still.add(item.exchange)  # the exchange itself: an id could be reused by a later request
            if item.exchange not in warned:
                _line(item, logging.WARNING, "request %s still running after %.0f ms", frames, None)
        return still


WATCHER = _Watcher()
os.register_at_fork(after_in_child=WATCHER._restart_after_fork)


def start_watcher(threshold_ms: float | None) -> None:
    """Start the stuck-request watcher in this process when ``threshold_ms`` is set (idempotent)."""
    WATCHER.start(threshold_ms)
