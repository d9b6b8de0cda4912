"""The ``lantern.inflight`` lines: the requests a server is about to kill, and those running too long.

``report_in_flight`` writes one CRITICAL line per request in flight, with
``request_id``, ``route``, ``elapsed_ms`` and ``stack`` (``metrics/_threads.py``),
then waits for the log handlers to write them: the default handler writes
from a thread of its own, and the process is about to end. Called by
gunicorn's ``worker_abort`` (``django_lantern.gunicorn``) and when uvicorn's
graceful shutdown times out (``watch_uvicorn_shutdown``).

With ``LANTERN["STUCK_REQUEST_MS"]`` set, a watcher thread writes one WARNING
with the stack per request still running past that time. Under gunicorn's
gthread worker, whose ``--timeout`` never ends a busy thread, the same thread
also writes one CRITICAL line per request still running past that timeout
(``watch_unkilled_timeout``, armed by ``django_lantern.gunicorn``). With
neither, the thread is never started and nothing is added to any request.
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


def _message(reason: str) -> str:
    return "request %s still running after %.0f ms" + (": " + reason if reason else "")


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
            _line(item, logging.CRITICAL, _message(reason), frames, skip)
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
    """One daemon thread per process: for each request running long, a WARNING past ``threshold_ms``
    (``STUCK_REQUEST_MS``) and a CRITICAL past ``limit_ms`` (a server timeout that does not kill a busy
    thread, ``arm_limit``), each once per request."""

    def __init__(self) -> None:
        self.threshold_ms: float | None = None
        self.limit_ms: float | None = None
        self.limit_reason = ""
        self._pid = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def start(self, threshold_ms: float | None) -> None:
        if threshold_ms is None:
            return
        with self._lock:
            self.threshold_ms = threshold_ms
            self._ensure_thread()

    def arm_limit(self, limit_ms: float, reason: str) -> None:
        with self._lock:
            self.limit_ms, self.limit_reason = limit_ms, reason
            self._ensure_thread()

    def _ensure_thread(self) -> None:
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
            with self._lock:
                self._ensure_thread()

    def _run(self) -> None:
        warned: set[object] = set()
        limited: set[object] = set()
        while True:
            thresholds = [t for t in (self.threshold_ms, self.limit_ms) if t is not None]
            # Often enough that a line comes at most a quarter of its threshold late; at most once a second.
            self._wake.wait(min(max(min(thresholds, default=0.0) / 4000, 0.05), 1.0))
            try:
                frames = sys._current_frames()
                if self.threshold_ms is not None:
                    warned = self.check(self.threshold_ms, warned, frames=frames)
                if self.limit_ms is not None:
                    limited = self.check(self.limit_ms, limited, logging.CRITICAL, self.limit_reason, frames)
            except Exception as exc:  # the watcher must outlive one bad round
                report_internal_error("inflight", exc)

    @staticmethod
    def check(
        threshold_ms: float,
        seen: set[object],
        level: int = logging.WARNING,
        reason: str = "",
        frames: dict[int, FrameType] | None = None,
    ) -> set[object]:
        """A line for each request past ``threshold_ms`` not in ``seen``; those past it, still running."""
        if frames is None:
            frames = sys._current_frames()
        message = _message(reason)
        still: set[object] = set()
        for item in in_flight(frames, threshold_ms):
            still.add(item.exchange)  # the exchange itself: an id could be reused by a later request
            if item.exchange not in seen:
                _line(item, level, message, frames, None)
        return still


WATCHER = _Watcher()
os.register_at_fork(after_in_child=WATCHER._restart_after_fork)


def start_watcher(threshold_ms: float | None) -> None:
    """Start the stuck-request watcher in this process when ``threshold_ms`` is set (idempotent)."""
    WATCHER.start(threshold_ms)


def watch_unkilled_timeout(limit_ms: float, reason: str) -> None:
    """One CRITICAL line per request still running past ``limit_ms``, from the watcher thread: for a
    server whose timeout does not end a busy request (gunicorn gthread), so the operator's limit
    still shows the request and its stack."""
    WATCHER.arm_limit(limit_ms, reason)
