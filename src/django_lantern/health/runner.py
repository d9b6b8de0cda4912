"""Runs readiness checks concurrently, each with a timeout the package enforces.

Why threads, and why one per check: a database that accepts a connection and
never answers blocks ``SELECT 1`` inside the driver, where no Python-level
timeout reaches. So each check runs in its own long-lived daemon thread and the
probe waits for it for at most the timeout, then reports ``timeout``.

Single flight: while a check is still running (or stuck), further probes
attach to the same pending run instead of starting another, so 200 concurrent
probes against a hung database hold one thread and one connection, not 200.
The worker threads are daemons, so a stuck driver call never delays process
exit, and they are re-created after a fork (gunicorn ``preload_app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass

from django_lantern.health.checks import CheckFailed, ReadinessCheck

logger = logging.getLogger("django_lantern.health")

PUBLIC_ERROR_TIMEOUT = "timeout"
PUBLIC_ERROR_GENERIC = "unavailable"


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    ok: bool
    ms: float
    # Safe to show in the body: "timeout", "unavailable" or a CheckFailed message.
    error: str | None = None
    # For the log line only: exception type and scrubbed message.
    detail: str | None = None


def _release_frames(exc: BaseException | None) -> None:
    """Drop the locals of a failed check's finished frames (and of its chained causes).

    psycopg's ``ConnectionTimeout`` leaves the timed-out socket referenced from
    those frames, in a reference cycle with the exception: it stays open until
    the cyclic GC runs, so probes against a hung database piled up open
    connections (14 at once in tests/system/test_faults.py before this).
    """
    for _ in range(8):  # bounded: chains are short, and may loop
        if exc is None:
            return
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def _execute(check: ReadinessCheck) -> CheckResult:
    start = time.perf_counter()
    try:
        check.run()
    except CheckFailed as exc:
        error, detail = str(exc)[:200] or PUBLIC_ERROR_GENERIC, f"CheckFailed: {exc}"
    except BaseException as exc:  # a check must never kill its worker thread
        error, detail = PUBLIC_ERROR_GENERIC, f"{type(exc).__qualname__}: {exc}"
        _release_frames(exc)
    else:
        return CheckResult(check.name, check.kind, True, (time.perf_counter() - start) * 1000)
    return CheckResult(check.name, check.kind, False, (time.perf_counter() - start) * 1000, error, detail)


class _CheckWorker:
    """One daemon thread per check, fed through a queue; at most one run pending."""

    def __init__(self, check: ReadinessCheck) -> None:
        self.check = check
        self._lock = threading.Lock()
        self._pending: Future[CheckResult] | None = None
        self._queue: queue.SimpleQueue[Future[CheckResult] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self) -> Future[CheckResult]:
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._start()
            pending = self._pending
            if pending is None or pending.done():
                pending = Future()
                self._pending = pending
                self._queue.put(pending)
            return pending

    def in_flight(self) -> bool:
        pending = self._pending
        return pending is not None and not pending.done()

    def _start(self) -> None:
        self._queue = queue.SimpleQueue()
        self._pending = None
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=self._loop, args=(self._queue,), name=f"lantern-readyz-{self.check.name}", daemon=True
        )
        self._thread.start()

    def _loop(self, jobs: queue.SimpleQueue[Future[CheckResult] | None]) -> None:
        while True:
            job = jobs.get()
            if job is None:
                # Release what the check holds in this thread (its database
                # connection): nothing else can close it once the thread ends.
                with contextlib.suppress(Exception):
                    self.check.close()
                return
            if job.set_running_or_notify_cancel():
                job.set_result(_execute(self.check))

    def stop(self) -> None:
        """Let the thread end once its current run (if any) returns."""
        self._queue.put(None)


class ReadinessRunner:
    """Holds the configured checks and their workers; see the module docstring."""

    def __init__(self, checks: Sequence[ReadinessCheck], default_timeout: float) -> None:
        self.checks = tuple(checks)
        self.default_timeout = default_timeout
        self._workers = [_CheckWorker(c) for c in self.checks]
        self.last_results: tuple[CheckResult, ...] = ()

    def _timeout(self, check: ReadinessCheck) -> float:
        return check.timeout if check.timeout is not None else self.default_timeout

    def _collect(self, futures: list[Future[CheckResult]], started: float) -> list[CheckResult]:
        results = []
        for check, future in zip(self.checks, futures, strict=True):
            timeout_ms = self._timeout(check) * 1000
            if future.done():
                result = future.result()
                if result.ms > timeout_ms:  # finished, but later than its own budget
                    result = CheckResult(
                        check.name, check.kind, False, result.ms, PUBLIC_ERROR_TIMEOUT, "slower than its timeout"
                    )
            else:
                waited = (time.perf_counter() - started) * 1000
                result = CheckResult(
                    check.name, check.kind, False, waited, PUBLIC_ERROR_TIMEOUT, f"no answer within {timeout_ms:.0f} ms"
                )
            if not result.ok:
                logger.warning(
                    "readiness check %s failed: %s (%.1f ms)", check.name, result.detail or result.error, result.ms
                )
            results.append(result)
        self.last_results = tuple(results)
        return results

    def run(self) -> list[CheckResult]:
        """Run every check concurrently; return within the largest timeout."""
        started = time.perf_counter()
        futures = [w.submit() for w in self._workers]
        if futures:
            wait_futures(futures, timeout=max(self._timeout(c) for c in self.checks))
        return self._collect(futures, started)

    async def arun(self) -> list[CheckResult]:
        """The async twin of ``run()``: waits without blocking the event loop."""
        started = time.perf_counter()
        futures = [w.submit() for w in self._workers]
        if futures:
            await _wait_async(futures, max(self._timeout(c) for c in self.checks))
        return self._collect(futures, started)

    def stop(self) -> None:
        for worker in self._workers:
            worker.stop()


async def _wait_async(futures: list[Future[CheckResult]], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    all_done: asyncio.Future[None] = loop.create_future()
    remaining = len(futures)
    lock = threading.Lock()

    def settle() -> None:
        if not all_done.done():
            all_done.set_result(None)

    def on_done(_: Future[CheckResult]) -> None:
        nonlocal remaining
        with lock:
            remaining -= 1
            last = remaining == 0
        if last:
            # RuntimeError: the loop closed while the check was stuck.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle)

    for future in futures:
        future.add_done_callback(on_done)
    await asyncio.wait([all_done], timeout=timeout)
