"""Log handlers that never break the request they log.

A log sink fails in three ways: it raises (stdout closed, disk full, a
read-only file system), it blocks (a pipe nobody reads, a stalled log
collector), or it is slow. The standard handlers turn the first into a
traceback on stderr per record and the second into a hung request thread.

- ``SafeStreamHandler`` / ``SafeFileHandler``: the standard handlers, except
  that a failed write is counted (``lantern_log_errors_total``) instead of
  printed or raised. They still *block* when the sink blocks.
- ``NonBlockingStreamHandler``: formats the record in the caller's thread (so
  the request context is still bound), then hands the finished line to a
  bounded queue that one writer thread drains. When the sink blocks, the
  queue fills and further records are *dropped and counted*
  (``lantern_log_records_dropped_total``); the request thread never waits.
  Memory is bounded by ``max_queue`` lines and ``max_bytes`` characters,
  whichever is reached first (defaults: 10,000 lines, 8 MiB). The first line
  accepted after a run of drops is preceded by one WARNING line saying how
  many were lost there, so the gap is visible in the log itself. This is
  ``build_logging_config()``'s default (docs/reliability.md, "Log sinks failing").

``OffThreadQueue`` is the bounded queue and single worker thread underneath,
also used for the admins' error e-mail (``reporting.py``).

Counters are plain integers (``stats()``), mirrored into Prometheus once
Django's settings are loaded (also under ``PROMETHEUS_MULTIPROC_DIR``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TextIO, TypeVar

from django.conf import settings

from django_lantern.context import CONTEXT_FIELDS, UNKNOWN

__all__ = ["NonBlockingStreamHandler", "SafeFileHandler", "SafeStreamHandler"]

DROPPED = "dropped"
ERRORS = "errors"
FOLDED = "folded"  # repeated errors not written (logging/_folding.py)
DEBUG_OVERFLOW = "debug_overflow"  # DEBUG calls a full DEBUG_ON_ERROR buffer let go (logging/_held.py)
# The logger name of the line that reports a gap (the handler writes it itself).
GAP_LOGGER = "django_lantern.logging"

# Counted since the process started, whatever the settings.
_counts = {DROPPED: 0, ERRORS: 0, FOLDED: 0, DEBUG_OVERFLOW: 0}
_counts_lock = threading.Lock()
# The Prometheus counters the plain counts were last carried into. Not a
# settings_cache: each new set (``get_log_families``, rebuilt when settings
# change) must receive the counts exactly once, under ``_counts_lock``, and a
# cache of ours, cleared apart from that one, could outlive the set it holds.
_bound: Any = None


def stats() -> dict[str, int]:
    """Records dropped by full queues, write failures and repeated errors folded, in this process."""
    with _counts_lock:
        return dict(_counts)


def _count(kind: str, n: int = 1) -> None:
    families = _families()  # first: a fresh set gets the counts made so far, then this one
    with _counts_lock:
        _counts[kind] += n
    if families is not None:
        # A metrics fault must not turn into a logging fault.
        with contextlib.suppress(Exception):
            getattr(families, kind).inc(n)


def count_debug_overflow(n: int) -> None:
    _count(DEBUG_OVERFLOW, n)


def _families() -> Any:
    """The two Prometheus counters (``LogFamilies``), once Django settings are ready.

    Not at import time: the handler is built while the settings module is
    still being imported, when neither ``LANTERN`` nor the metrics namespace
    can be read; until then (and when metrics are off) counts stay local. The
    families' module is imported here too: a settings or gunicorn config file
    imports this one, and prometheus_client reads ``PROMETHEUS_MULTIPROC_DIR``
    once, when first imported (metrics/multiprocess.py).
    """
    global _bound
    try:
        if not settings.configured:
            return None
        from django_lantern.metrics._families import get_log_families

        families = get_log_families()
        if families is not None and families is not _bound:
            with _counts_lock:
                if families is not _bound:
                    # Counted before the counters existed (or before a settings change rebuilt them).
                    for kind, made in _counts.items():
                        if made:
                            getattr(families, kind).inc(made)
                    _bound = families
        return families
    except Exception:
        # Duplicate registration or settings not ready: keep counting locally.
        return None


def ensure_metrics() -> None:
    """Make the counters visible (at zero) before anything has gone wrong."""
    _families()


class SafeStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """``logging.StreamHandler`` whose failures are counted, never printed or raised.

    The standard ``handleError`` prints a traceback to stderr for every failed
    record, which is the same broken sink (or a second one) and floods it.
    """

    def handleError(self, record: logging.LogRecord) -> None:
        _count(ERRORS)

    def write_line(self, message: str) -> None:
        """``emit`` for a message already formatted: one write of the line, then a flush.

        Under the handler's lock, as ``emit`` is: the stream is a Python file
        object whose write and flush other threads' records also use, and
        no size of line is atomic through its buffer. Uncontended, the lock
        costs little next to the write.
        """
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            try:
                stream = self.stream
                stream.write(message + self.terminator)
                if stream and hasattr(stream, "flush"):
                    stream.flush()
            except RecursionError:
                raise
            except Exception:
                _count(ERRORS)


class SafeFileHandler(logging.FileHandler):
    """``logging.FileHandler`` that counts failures; opens the file lazily.

    ``delay`` defaults to true so that an unwritable path (a read-only disk)
    is a counted failure on the first record, not a crash at start-up.
    """

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = "utf-8", delay: bool = True) -> None:
        super().__init__(filename, mode=mode, encoding=encoding, delay=delay)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            super().emit(record)
        except Exception:  # opening the file happens outside the parent's try
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        _count(ERRORS)


_STOP = object()
T = TypeVar("T")


class OffThreadQueue(Generic[T]):
    """A bounded queue that one daemon thread drains through ``deliver``.

    ``put`` never waits: False means the queue was full and the item was not
    taken. The thread starts with the first item and again after a fork
    (gunicorn ``preload_app``), since threads do not survive one; the queue
    is then a new, empty one and ``on_restart`` is called. ``deliver`` must
    not raise (an exception is swallowed so the thread lives on).
    """

    def __init__(
        self,
        deliver: Callable[[T], None],
        max_queue: int,
        name: str,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        self._deliver = deliver
        self.max_queue = max_queue
        self._name = name
        self._on_restart = on_restart
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()

    def put(self, item: T) -> bool:
        self.start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def pending(self) -> int:
        """Items taken but not yet delivered (in this process)."""
        return self._queue.unfinished_tasks if self._pid == os.getpid() else 0

    def flush(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the queue to drain; True if it did."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def start(self) -> None:
        """Start the thread in this process, if it is not running here yet."""
        if self._pid == os.getpid() and self._thread is not None:
            return
        with self._start_lock:
            if self._pid == os.getpid() and self._thread is not None:
                return
            if self._pid != os.getpid():
                self._queue = queue.Queue(self.max_queue)
                if self._on_restart is not None:
                    self._on_restart()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._drain, args=(self._queue,), name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Let the thread end once what is queued is delivered (nothing waits for it)."""
        if self._thread is not None and self._pid == os.getpid():
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_STOP)

    def _drain(self, jobs: queue.Queue[Any]) -> None:
        while True:
            item = jobs.get()
            try:
                if item is _STOP:
                    return
                with contextlib.suppress(Exception):
                    self._deliver(item)
            finally:
                jobs.task_done()


class NonBlockingStreamHandler(logging.Handler):
    """Format now, write later from one thread; drop and count when full.

    ``stream`` (default ``sys.stdout``, resolved at first write so test
    runners that swap it are honoured) or ``filename`` (opened lazily, in
    append mode). Ordering of lines is preserved; the writer flushes after
    every line, so a crash loses at most what is still queued.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        filename: str | None = None,
        max_queue: int = 10_000,
        max_bytes: int = 8 * 1024 * 1024,
        flush_timeout: float = 1.0,
    ) -> None:
        super().__init__()
        self._stream = stream
        self._filename = filename
        self.max_queue = max_queue
        self.max_bytes = max_bytes
        self.flush_timeout = flush_timeout
        self._queued_chars = 0
        # Records dropped since the last one accepted: reported in front of the next one.
        self._gap = 0
        self._size_lock = threading.Lock()
        self._writer: OffThreadQueue[str] = OffThreadQueue(
            self._write, max_queue, "lantern-log-writer", on_restart=self._forget_queued
        )

    # -- caller side (request threads) ----------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        self.enqueue(line)

    def write_line(self, message: str) -> None:
        """``emit`` for a message already formatted: queued as one line (``SafeStreamHandler``'s
        method of the same name writes it at once)."""
        self.enqueue(message + "\n")

    def enqueue(self, line: str) -> None:
        """Queue a finished line (newline included) for the writer; dropped and counted when full.

        Takes no handler lock: the queue is the only shared state, and it has its own.
        """
        self._writer.start()  # before the size is counted: a fork's restart forgets the old count
        size = len(line)
        with self._size_lock:
            if self._queued_chars + size > self.max_bytes:
                self._gap += 1
                _count(DROPPED)
                return
            self._queued_chars += size
            gap, self._gap = self._gap, 0
        notice = ""
        if gap:
            # One queue item: the gap's report goes out right where the lost lines were.
            notice = self._gap_line(gap)
            with self._size_lock:
                self._queued_chars += len(notice)  # may pass max_bytes by this one line
        if not self._writer.put(notice + line):
            with self._size_lock:
                self._queued_chars -= len(notice) + size
                self._gap += gap + 1
            _count(DROPPED)

    def _gap_line(self, dropped: int) -> str:
        """The WARNING line that reports ``dropped`` lost records, formatted like every other line."""
        record = logging.LogRecord(
            GAP_LOGGER,
            logging.WARNING,
            __file__,
            0,
            "%d log records were dropped here: the log sink did not keep up (lantern_log_records_dropped_total)",
            (dropped,),
            None,
        )
        for name in CONTEXT_FIELDS:
            record.__dict__[name] = UNKNOWN  # not the current request's: the lines were anyone's
        record.dropped = dropped
        try:
            return self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return ""

    def handleError(self, record: logging.LogRecord) -> None:
        _count(ERRORS)

    def _forget_queued(self) -> None:
        # Called under the writer's start lock after a fork: the new queue is empty,
        # and the parent's drops are the parent's to report.
        self._queued_chars = 0
        self._gap = 0

    # -- writer side (one daemon thread) --------------------------------------
    def _target(self) -> TextIO:
        if self._stream is None:
            if self._filename is not None:
                self._stream = open(self._filename, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            else:
                self._stream = sys.stdout
        return self._stream

    def _write(self, line: str) -> None:
        with self._size_lock:
            self._queued_chars -= len(line)
        try:
            stream = self._target()
            stream.write(line)
            stream.flush()
        except Exception:
            _count(ERRORS)

    def flush(self) -> None:
        """Wait (at most ``flush_timeout``) for queued lines to be written.

        Bounded because the sink may be blocked: process exit must not hang on it.
        """
        self._writer.flush(self.flush_timeout)

    def close(self) -> None:
        self.flush()
        self._writer.stop()
        super().close()
