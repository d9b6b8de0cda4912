"""The readiness runner: timeouts it enforces itself, single flight, generic errors, recovery."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from django_lantern.health._runner import ReadinessRunner
from django_lantern.health._views import readiness_body
from django_lantern.health._worker import PUBLIC_ERROR_GENERIC, PUBLIC_ERROR_TIMEOUT
from django_lantern.health.checks import CallableCheck, CheckFailed, ReadinessCheck

# Upper bound slack for a deadline check: generous, this is not a benchmark.
MARGIN = 2.0


class BlockingCheck(ReadinessCheck):
    """Blocks until released, like a driver call that never returns; counts its runs."""

    kind = "db"

    def __init__(self, name: str = "db:stuck") -> None:
        super().__init__(name)
        self.release = threading.Event()
        self.runs = 0

    def run(self) -> None:
        self.runs += 1
        self.release.wait(timeout=30)


@pytest.fixture
def stuck() -> Iterator[BlockingCheck]:
    check = BlockingCheck()
    yield check
    check.release.set()


def test_all_ok() -> None:
    """Passing checks give ok results and a ready body."""
    runner = ReadinessRunner([CallableCheck("custom:a", lambda: None)], 0.5)
    try:
        results = runner.run()
    finally:
        runner.stop()
    assert [r.ok for r in results] == [True]
    assert readiness_body(results) == (
        {"status": "ready", "checks": {"custom:a": {"ok": True, "ms": round(results[0].ms, 2)}}},
        200,
    )


def test_check_failed_and_generic_errors() -> None:
    """CheckFailed's text is public; any other exception becomes "unavailable"."""

    def fails() -> None:
        raise CheckFailed("not migrated")

    def crashes() -> None:
        raise OSError("host db.internal refused")

    runner = ReadinessRunner([CallableCheck("custom:f", fails), CallableCheck("custom:c", crashes)], 0.5)
    try:
        failed, crashed = runner.run()
    finally:
        runner.stop()
    assert (failed.ok, failed.error) == (False, "not migrated")
    assert (crashed.ok, crashed.error) == (False, PUBLIC_ERROR_GENERIC)
    body, status = readiness_body([failed, crashed])
    assert status == 503 and "db.internal" not in str(body)


def test_a_stuck_check_times_out_within_its_deadline(stuck: BlockingCheck, caplog: pytest.LogCaptureFixture) -> None:
    """A check that never returns is reported as "timeout" once its timeout has passed."""
    runner = ReadinessRunner([stuck], 0.2)
    started = time.monotonic()
    (result,) = runner.run()
    elapsed = time.monotonic() - started
    assert result.ok is False and result.error == PUBLIC_ERROR_TIMEOUT
    assert elapsed < 0.2 + MARGIN
    assert "readiness check db:stuck failed" in caplog.text
    body, status = readiness_body([result])
    assert status == 503 and body["db"] == "down" and body["checks"]["db:stuck"]["error"] == "timeout"
    runner.stop()


def test_probes_against_a_stuck_check_share_one_run(stuck: BlockingCheck) -> None:
    """While a check is stuck, later probes attach to the same run instead of starting new ones."""
    runner = ReadinessRunner([stuck], 0.05)
    for _ in range(5):
        runner.run()
    assert stuck.runs == 1
    stuck.release.set()
    deadline = time.monotonic() + 5
    while runner._workers["db:stuck"].current() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    (result,) = runner.run()
    assert result.ok is True
    assert stuck.runs == 2
    runner.stop()


def test_concurrent_probes_share_one_run(stuck: BlockingCheck) -> None:
    """Many threads probing at once hold one run of the stuck check, not one each."""
    runner = ReadinessRunner([stuck], 0.1)
    threads = [threading.Thread(target=runner.run) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert stuck.runs == 1
    runner.stop()


async def test_async_run_times_out_without_blocking_the_loop(stuck: BlockingCheck) -> None:
    """``arun()`` enforces the timeout and leaves the event loop free meanwhile."""
    runner = ReadinessRunner([stuck], 0.2)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    (result,) = await runner.arun()
    elapsed = time.monotonic() - started
    task.cancel()
    assert result.error == PUBLIC_ERROR_TIMEOUT
    assert elapsed < 0.2 + MARGIN
    assert ticks > 1
    runner.stop()


def test_per_check_timeout_overrides_the_default(stuck: BlockingCheck) -> None:
    """A check's own ``timeout`` attribute is used instead of the default."""
    stuck.timeout = 0.05
    runner = ReadinessRunner([stuck], 30.0)
    started = time.monotonic()
    (result,) = runner.run()
    assert result.error == PUBLIC_ERROR_TIMEOUT
    assert time.monotonic() - started < 0.05 + MARGIN
    runner.stop()


def test_a_check_slower_than_its_budget_counts_as_timeout() -> None:
    """A check that finished but took longer than its timeout is still reported as a timeout."""

    class Slow(ReadinessCheck):
        timeout = 0.01

        def run(self) -> None:
            time.sleep(0.05)

    fast = CallableCheck("custom:fast", lambda: None)
    fast.timeout = 1.0
    runner = ReadinessRunner([Slow("custom:slow"), fast], 1.0)
    try:
        slow_result, fast_result = runner.run()
    finally:
        runner.stop()
    assert slow_result.error == PUBLIC_ERROR_TIMEOUT
    assert fast_result.ok


def test_a_base_exception_does_not_kill_the_worker() -> None:
    """Even a BaseException in a check is contained; the next probe still runs."""
    calls: list[int] = []

    def explode() -> None:
        calls.append(1)
        raise KeyboardInterrupt

    runner = ReadinessRunner([CallableCheck("custom:kbd", explode)], 0.5)
    try:
        assert runner.run()[0].error == PUBLIC_ERROR_GENERIC
        assert runner.run()[0].error == PUBLIC_ERROR_GENERIC
    finally:
        runner.stop()
    assert len(calls) == 2


def test_stop_closes_the_check_in_its_own_thread() -> None:
    """Stopping the runner calls each check's close() in the worker thread that ran it."""
    ran_in: list[str] = []
    closed_in: list[str] = []

    class Tracked(ReadinessCheck):
        def run(self) -> None:
            ran_in.append(threading.current_thread().name)

        def close(self) -> None:
            closed_in.append(threading.current_thread().name)

    runner = ReadinessRunner([Tracked("custom:tracked")], 0.5)
    runner.run()
    runner.stop()
    deadline = time.monotonic() + 5
    while not closed_in and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closed_in == ran_in == ["lantern-readyz-custom:tracked"]


class Toggle(ReadinessCheck):
    """Passes or fails on demand; counts its runs."""

    def __init__(self) -> None:
        super().__init__("custom:toggle")
        self.failing = False
        self.runs = 0

    def run(self) -> None:
        self.runs += 1
        if self.failing:
            raise CheckFailed("down")


def test_a_verdict_is_shared_within_its_ttl_and_never_served_past_it() -> None:
    """Probes within READINESS_CACHE_SECONDS share one attempt; after it, the verdict is fresh again."""
    check = Toggle()
    runner = ReadinessRunner([check], 0.5, cache_seconds=0.4)
    try:
        assert [r.ok for r in runner.run()] == [True]
        check.failing = True
        assert [r.ok for r in runner.run()] == [True]  # the shared verdict, younger than 0.4 s
        assert check.runs == 1
        time.sleep(0.45)
        (result,) = runner.run()
        assert (result.ok, result.error) == (False, "down")  # never the old verdict past its lifetime
    finally:
        runner.stop()


def test_ttl_zero_runs_every_probe() -> None:
    """READINESS_CACHE_SECONDS=0 keeps no verdict: each sequential probe runs the check."""
    check = Toggle()
    runner = ReadinessRunner([check], 0.5, cache_seconds=0)
    try:
        for _ in range(3):
            runner.run()
    finally:
        runner.stop()
    assert check.runs == 3


def test_a_probe_finding_an_overdue_attempt_answers_without_waiting(stuck: BlockingCheck) -> None:
    """Once an attempt is past its deadline, later probes report "timeout" at once instead of waiting again."""
    runner = ReadinessRunner([stuck], 0.3)
    try:
        runner.run()  # waits the timeout: the attempt is now overdue
        for _ in range(3):
            started = time.monotonic()
            (result,) = runner.run()
            assert result.error == PUBLIC_ERROR_TIMEOUT
            assert time.monotonic() - started < 0.3, "the probe waited for an attempt already past its deadline"
        assert stuck.runs == 1
    finally:
        runner.stop()


def test_an_overdue_attempt_is_interrupted_once_and_the_thread_freed() -> None:
    """At the deadline the runner calls interrupt() once, however many probes wait; the worker is then free."""
    interrupts: list[str] = []

    class Interruptible(BlockingCheck):
        def interrupt(self) -> None:
            interrupts.append(threading.current_thread().name)
            self.release.set()

    check = Interruptible()
    runner = ReadinessRunner([check], 0.1)
    try:
        threads = [threading.Thread(target=runner.run) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert len(interrupts) == 1
        deadline = time.monotonic() + 5
        while runner._workers["db:stuck"].current() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runner._workers["db:stuck"].current() is None  # the thread finished its run
        check.release.clear()
        check.release.set()
        runner.run()
        assert check.runs == 2
    finally:
        check.release.set()
        runner.stop()


def test_a_late_failure_logs_its_real_exception(caplog: pytest.LogCaptureFixture) -> None:
    """A check that fails after its budget is reported as a timeout, and its own exception is logged."""
    done = threading.Event()

    def slow_then_broken() -> None:
        time.sleep(0.15)
        done.set()
        raise OSError("connection reset by the database")

    check = CallableCheck("custom:late", slow_then_broken)
    runner = ReadinessRunner([check], 0.02)
    try:
        (result,) = runner.run()
        assert result.error == PUBLIC_ERROR_TIMEOUT
        assert done.wait(5)
        deadline = time.monotonic() + 5
        while "connection reset by the database" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        runner.stop()
    assert "OSError: connection reset by the database" in caplog.text
    assert "over its 20 ms timeout" in caplog.text


def test_a_run_over_some_checks_only() -> None:
    """``run(names)`` runs and reports only the named checks; an unknown name is a KeyError."""
    first, second = Toggle(), CallableCheck("custom:other", lambda: None)
    runner = ReadinessRunner([first, second], 0.5)
    try:
        assert [r.name for r in runner.run(["custom:other"])] == ["custom:other"]
        assert first.runs == 0
        with pytest.raises(KeyError):
            runner.run(["custom:missing"])
    finally:
        runner.stop()
