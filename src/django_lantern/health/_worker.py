"""One check, its daemon thread, its attempt in flight and its last verdict.

Why a thread per check: a database that accepts a connection and never
answers blocks ``SELECT 1`` inside the driver, where no Python-level timeout
reaches. The check runs in its own long-lived daemon thread; probes wait for
it at most its timeout.

Single flight: at most one attempt per check is in flight. A probe that finds
one joins it; a probe that finds one already past its deadline does not wait
at all (the verdict is "timeout"), and the attempt is interrupted once
(``ReadinessCheck.interrupt()``: the built-in checks shut their socket down),
so the thread is free again instead of stuck in ``recv`` until the kernel
gives up, about 15 minutes later.

Verdicts are kept for ``READINESS_CACHE_SECONDS`` and never served older than
that, so a storm of probes costs one attempt per period, not one per probe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass, field

from django_lantern.health._base import CheckFailed, ReadinessCheck

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


@dataclass
class Attempt:
    """One run of a check in its thread; shared by every probe that arrives meanwhile."""

    future: Future[CheckResult]
    started: float  # time.monotonic()
    deadline: float
    # The "timeout" verdict, decided once by the first probe that sees the deadline pass.
    overdue: CheckResult | None = field(default=None)


def _release_frames(exc: BaseException | None) -> None:
    """Drop the locals of a failed check's finished frames (and of its chained causes).

    psycopg's ``ConnectionTimeout`` leaves the timed-out socket referenced from
    those frames, in a reference cycle with the exception: it stays open until
    the cyclic GC runs, so probes against a hung database piled up open
    connections (14 at once in the system suite before this).
    """
    for _ in range(8):  # bounded: chains are short, and may loop
        if exc is None:
            return
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def execute(check: ReadinessCheck) -> CheckResult:
    """Run ``check`` once and turn its outcome into a result; never raises."""
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


class CheckWorker:
    """A check's daemon thread, fed through a queue, with at most one attempt in flight."""

    def __init__(self, check: ReadinessCheck, timeout: float) -> None:
        self.check = check
        self.timeout = timeout
        check.budget = timeout  # the built-in checks bound their own driver waits by it
        self._prepared = False
        self._lock = threading.Lock()
        self._attempt: Attempt | None = None
        self._verdict: tuple[CheckResult, float] | None = None  # and when it was decided
        self._queue: queue.SimpleQueue[Attempt | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    # -- verdicts ------------------------------------------------------------

    def fresh(self, now: float, ttl: float) -> tuple[CheckResult, float] | None:
        """The last verdict and its age, if younger than ``ttl`` seconds."""
        verdict = self._verdict
        if verdict is not None and 0 <= now - verdict[1] < ttl:
            return verdict[0], now - verdict[1]
        return None

    def record(self, result: CheckResult, decided_at: float) -> None:
        """Keep ``result`` as the verdict; a failure is logged once per verdict, not once per probe."""
        with self._lock:
            current = self._verdict
            if current is not None and current[1] > decided_at:
                return  # a newer verdict is already known
            self._verdict = (result, decided_at)
        if not result.ok:
            logger.warning(
                "readiness check %s failed: %s (%.1f ms)", self.check.name, result.detail or result.error, result.ms
            )

    def timed_out(self, attempt: Attempt, now: float) -> CheckResult:
        """The verdict for an attempt still running past its deadline: decided, recorded and
        the attempt interrupted once, however many probes were waiting for it."""
        with self._lock:
            overdue = attempt.overdue
            if overdue is not None:
                return overdue
            waited = (now - attempt.started) * 1000
            overdue = attempt.overdue = CheckResult(
                self.check.name,
                self.check.kind,
                False,
                waited,
                PUBLIC_ERROR_TIMEOUT,
                f"no answer within {self.timeout * 1000:.0f} ms (running for {waited:.0f} ms)",
            )
        try:
            self.check.interrupt()
        except Exception:  # an interrupt is best effort; the verdict stands anyway
            logger.warning("readiness check %s: interrupt failed", self.check.name, exc_info=True)
        self.record(overdue, now)
        return overdue

    # -- attempts ------------------------------------------------------------

    def current(self) -> Attempt | None:
        attempt = self._attempt
        return attempt if attempt is not None and not attempt.future.done() else None

    def attempt(self, now: float) -> Attempt:
        """The attempt in flight, or a new one started now."""
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._start_thread()
            attempt = self._attempt
            if attempt is None or attempt.future.done():
                if not self._prepared:
                    self._prepared = True
                    self._prepare()
                    now = time.monotonic()
                attempt = Attempt(Future(), now, now + self.timeout)
                self._attempt = attempt
                self._queue.put(attempt)
            return attempt

    def _prepare(self) -> None:
        try:
            self.check.prepare()
        except Exception:  # the attempt will meet the same problem and report it
            logger.debug("readiness check %s: prepare() failed", self.check.name, exc_info=True)

    def _start_thread(self) -> None:
        self._queue = queue.SimpleQueue()
        self._attempt = None
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=self._loop, args=(self._queue,), name=f"lantern-readyz-{self.check.name}", daemon=True
        )
        self._thread.start()

    def _loop(self, jobs: queue.SimpleQueue[Attempt | None]) -> None:
        while True:
            job = jobs.get()
            if job is None:
                # Release what the check holds in this thread (its database
                # connection): nothing else can close it once the thread ends.
                with contextlib.suppress(Exception):
                    self.check.close()
                return
            if job.future.set_running_or_notify_cancel():
                result = self._judge(execute(self.check))
                self.record(result, time.monotonic())
                job.future.set_result(result)

    def _judge(self, result: CheckResult) -> CheckResult:
        """A result that came after the check's budget is a timeout, with what really happened kept."""
        budget_ms = self.timeout * 1000
        if result.ms <= budget_ms:
            return result
        late = f"after {result.ms:.0f} ms, over its {budget_ms:.0f} ms timeout"
        # What really happened stays in the log line: the exception, not only "too slow".
        detail = f"answered {late}" if result.ok else f"{result.detail or result.error} ({late})"
        return CheckResult(result.name, result.kind, False, result.ms, PUBLIC_ERROR_TIMEOUT, detail)

    def stop(self) -> None:
        """Let the thread end once its current attempt (if any) returns."""
        self._queue.put(None)
