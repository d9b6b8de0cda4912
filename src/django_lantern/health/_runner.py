"""Answers a probe from the checks' workers: fresh verdicts, shared attempts, enforced deadlines.

A probe, for each check it covers:

1. takes the check's last verdict if it is younger than
   ``READINESS_CACHE_SECONDS`` (never older): no wait at all; when that
   verdict is close to expiring and nothing is in flight, it also starts the
   next attempt without waiting for it, so a steady stream of probes keeps
   finding fresh verdicts;
2. otherwise joins the attempt in flight (single flight), or starts one, and
   waits for it at most until that attempt's deadline; an attempt already past
   its deadline is answered "timeout" at once and interrupted.

So concurrent probes share one attempt per check and one short-lived verdict,
and the async path waits on an asyncio future: no thread per probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from concurrent.futures import wait as wait_futures

from django_lantern.health._base import ReadinessCheck
from django_lantern.health._worker import Attempt, CheckResult, CheckWorker

__all__ = ["ReadinessRunner"]


class ReadinessRunner:
    """Holds the configured checks and their workers; see the module docstring."""

    def __init__(self, checks: Sequence[ReadinessCheck], default_timeout: float, cache_seconds: float = 0.0) -> None:
        self.checks = tuple(checks)
        self.default_timeout = default_timeout
        self.cache_seconds = cache_seconds
        self._workers = {
            c.name: CheckWorker(c, c.timeout if c.timeout is not None else default_timeout) for c in self.checks
        }
        self.last_results: tuple[CheckResult, ...] = ()
        # Each check's newest result, whichever answer ran it (bounded by the checks configured).
        self.latest: dict[str, CheckResult] = {}

    def _selected(self, names: Collection[str] | None) -> list[CheckWorker]:
        if names is None:
            return list(self._workers.values())
        unknown = set(names) - set(self._workers)
        if unknown:
            raise KeyError(f"no readiness check named {sorted(unknown)!r}")
        return [w for name, w in self._workers.items() if name in names]

    def _plan(self, workers: list[CheckWorker]) -> tuple[dict[str, CheckResult], dict[str, Attempt]]:
        """Results known now, and the attempts to wait for (each until its own deadline)."""
        now = time.monotonic()
        known: dict[str, CheckResult] = {}
        waiting: dict[str, Attempt] = {}
        for worker in workers:
            name = worker.check.name
            fresh = worker.fresh(now, self.cache_seconds)
            if fresh is not None:
                known[name], age = fresh
                refresh_at = max(self.cache_seconds / 2, self.cache_seconds - worker.timeout)
                if age >= refresh_at and worker.current() is None:
                    worker.attempt(now)  # refresh ahead; nobody waits for it
                continue
            attempt = worker.attempt(now)
            if attempt.future.done():
                known[name] = attempt.future.result()
            elif attempt.deadline <= now:
                known[name] = worker.timed_out(attempt, now)
            else:
                waiting[name] = attempt
        return known, waiting

    def _settle(
        self, workers: list[CheckWorker], known: dict[str, CheckResult], waiting: dict[str, Attempt]
    ) -> list[CheckResult]:
        now = time.monotonic()
        for name, attempt in waiting.items():
            if attempt.future.done():
                known[name] = attempt.future.result()
            else:
                known[name] = self._workers[name].timed_out(attempt, now)
        results = [known[w.check.name] for w in workers]
        self.last_results = tuple(results)
        self.latest.update((r.name, r) for r in results)
        return results

    def run(self, names: Collection[str] | None = None) -> list[CheckResult]:
        """Results for the checks named (default: all), within the largest of their timeouts."""
        workers = self._selected(names)
        known, waiting = self._plan(workers)
        if waiting:
            until = max(a.deadline for a in waiting.values())
            wait_futures([a.future for a in waiting.values()], timeout=max(0.0, until - time.monotonic()))
        return self._settle(workers, known, waiting)

    async def arun(self, names: Collection[str] | None = None) -> list[CheckResult]:
        """The async twin of ``run()``: waits on the event loop, without a thread of its own."""
        workers = self._selected(names)
        known, waiting = self._plan(workers)
        if waiting:
            until = max(a.deadline for a in waiting.values())
            futures = [asyncio.wrap_future(a.future) for a in waiting.values()]
            await asyncio.wait(futures, timeout=max(0.0, until - time.monotonic()))
        return self._settle(workers, known, waiting)

    def stop(self) -> None:
        for worker in self._workers.values():
            worker.stop()
