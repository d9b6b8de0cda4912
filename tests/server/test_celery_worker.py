"""Celery workers under faults and as users start them: killed children, recycled children,
hostile headers, and a worker with nothing but ``instrument(app)``.

Real ``celery worker`` subprocesses (tests/jobs/worker.py) on the Redis database
of ``REDIS_URL``; publishers are this process.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from django_lantern import bind
from tests.helpers.servers import free_port
from tests.helpers.services import require_redis
from tests.jobs.worker import Samples, Worker, run_worker, scrape

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def broker() -> str:
    return require_redis()


@pytest.fixture(scope="module")
def jobs(broker: str) -> ModuleType:
    import os

    os.environ["JOBS_BROKER_URL"] = broker
    from tests.jobs import celery_app

    celery_app.app.conf.broker_url = broker
    return celery_app


def _task_lines(worker: Worker, task_id: str) -> list[dict[str, Any]]:
    return [line for line in worker.task_lines() if line.get("task_id") == task_id]


def _counted(samples: Samples, task: str, outcome: str) -> float:
    return samples.get(("lantern_tasks_total", (("outcome", outcome), ("task", task))), 0.0)


@pytest.fixture
def prefork(broker: str) -> Iterator[tuple[Worker, int, Path]]:
    """A prefork worker, one child, a 3 s hard time limit, metrics on a port."""
    with tempfile.TemporaryDirectory(prefix="lantern-prom-") as prom_dir:
        port = free_port()
        lantern = {"TASK_METRICS_PORT": port, "TASK_METRICS_ADDRESS": "127.0.0.1"}
        with run_worker(
            broker, pool="prefork", lantern=lantern, args=("--time-limit=3",), PROMETHEUS_MULTIPROC_DIR=prom_dir
        ) as worker:
            yield worker, port, Path(prom_dir)


def test_a_killed_child_is_counted_failed_once_and_celerys_error_line_has_the_ids(
    prefork: tuple[Worker, int, Path], jobs: ModuleType
) -> None:
    """A run whose child is SIGKILLed (by the hard time limit, by kill -9) is one failure task line
    and one count, with the publisher's ids on it and on Celery's ERROR lines; a child killed after
    it reported its run is not counted a second time."""
    worker, port, _ = prefork
    with bind(request_id="req-limit-1"):
        limited = jobs.sleep.apply_async((30,), queue=worker.queue).id
    # One at a time: the pool's hard-limit handling of the first run must be over before the next
    # child is killed, else on a loaded machine the two losses can be told apart only by timing.
    worker.wait_for(lambda lines: bool(_task_lines(worker, limited)), 60, "the time-limited run")
    with bind(request_id="req-kill-1"):
        killed = jobs.kill_own_child.apply_async(queue=worker.queue).id
    with bind(request_id="req-late-1"):
        late = jobs.killed_after_reporting.apply_async(queue=worker.queue).id
    after = jobs.log_and_return.apply_async(("after",), queue=worker.queue).id
    worker.wait_for(lambda lines: any(line.get("task_id") == after for line in worker.task_lines()), 60, "4 runs")

    # The killed child's loss is Celery's WorkerLostError, unless the pool notices the dead child
    # only after the run's 3 s hard limit has passed (a loaded machine): Celery then names the limit.
    # Which name Celery picks is its own; one failure line with the ids and one count are ours.
    named: dict[str, str] = {}
    for task_id, request_id, error_types in (
        (limited, "req-limit-1", {"TimeLimitExceeded"}),
        (killed, "req-kill-1", {"WorkerLostError", "TimeLimitExceeded"}),
    ):
        runs = _task_lines(worker, task_id)
        assert len(runs) == 1, [entry for entry in worker.lines() if entry.get("task_id") == task_id]
        line = runs[0]
        assert (line["outcome"], line["level"]) == ("failure", "error")
        assert line["error_type"] in error_types, line
        named[task_id] = line["error_type"]
        assert line["request_id"] == request_id and line["task_name"] in ("jobs.sleep", "jobs.kill_own_child")
        errors = [
            entry
            for entry in worker.lines()
            if entry["level"] == "error" and entry["logger"].startswith("celery") and task_id in json.dumps(entry)
        ]
        assert errors, f"no Celery ERROR line for {task_id}"
        assert {(entry["request_id"], entry["task_id"]) for entry in errors} == {(request_id, task_id)}
    lost = [
        entry
        for entry in worker.lines()
        if entry["level"] == "error" and "WorkerLostError" in entry["message"] and entry["logger"].startswith("celery")
    ]
    if named[killed] == "WorkerLostError":
        assert {entry["request_id"] for entry in lost} >= {"req-kill-1"}

    (late_line,) = _task_lines(worker, late)
    assert late_line["outcome"] == "success"
    samples = scrape(port)
    assert _counted(samples, "jobs.sleep", "failure") == 1
    assert _counted(samples, "jobs.kill_own_child", "failure") == 1
    assert _counted(samples, "jobs.killed_after_reporting", "success") == 1
    assert _counted(samples, "jobs.killed_after_reporting", "failure") == 0
    assert _counted(samples, "jobs.log_and_return", "success") == 1


def test_recycled_children_leave_a_bounded_directory_and_exact_totals(broker: str, jobs: ModuleType) -> None:
    """--max-tasks-per-child 1, 60 tasks on 2 children: the dead children's files are folded into the
    archives, so the directory holds at most the archives and the live processes' files, and the
    counters total 60."""
    tasks = 60
    with tempfile.TemporaryDirectory(prefix="lantern-prom-") as prom_dir:
        port = free_port()
        lantern = {"TASK_METRICS_PORT": port, "TASK_METRICS_ADDRESS": "127.0.0.1"}
        with run_worker(
            broker,
            pool="prefork",
            concurrency=2,
            lantern=lantern,
            args=("--max-tasks-per-child=1",),
            PROMETHEUS_MULTIPROC_DIR=prom_dir,
        ) as worker:
            for i in range(tasks):
                jobs.log_and_return.apply_async((f"recycled:{i}",), queue=worker.queue)
            worker.wait_for(lambda lines: len(worker.task_lines()) >= tasks, 150, f"{tasks} task lines", interval=0.5)
            samples = scrape(port)
            files = sorted(path.name for path in Path(prom_dir).glob("*.db"))
    print(f"files after {tasks} tasks: {len(files)} {files}")
    # Two archives (counter, histogram) plus the counter and histogram files of at most
    # two live children and one child that exited but has no successor yet.
    assert len(files) <= 2 + 2 * 3, files
    assert sum(name.endswith("_archive.db") for name in files) == 2
    key = (("task", "jobs.log_and_return"),)
    assert _counted(samples, "jobs.log_and_return", "success") == tasks
    assert samples[("lantern_task_duration_seconds_count", key)] == tasks
    assert samples[("lantern_task_queue_wait_seconds_count", key)] == tasks


HOSTILE = [-1e308, -1e308, 1e308, float("nan"), float("inf"), float("-inf"), "12", [1] * 100_000, True, 0, None]


def test_hostile_header_values_never_reach_the_queue_wait_sum(broker: str, jobs: ModuleType) -> None:
    """An untrusted publisher's lantern_published_at values (-1e308, nan, inf, strings, a huge list, far
    past or future) are ignored: the queue-wait sum stays finite, one warning says so, no value is echoed."""
    import time

    from celery import signals

    port = free_port()
    lantern = {"TASK_METRICS_PORT": port, "TASK_METRICS_ADDRESS": "127.0.0.1"}
    values = [*HOSTILE, time.time() + 86400]
    pending = list(values)

    def forge(headers: dict[str, Any] | None = None, **_: Any) -> None:
        """An uninstrumented publisher's value, written after lantern's receiver set its own."""
        if headers is not None and pending:
            headers["lantern_published_at"] = pending.pop(0)
            headers["lantern_request_id"] = ["x"] * 1000
            headers["traceparent"] = "00-" + "f" * 100_000

    with run_worker(broker, pool="solo", lantern=lantern) as worker:
        signals.before_task_publish.connect(forge, weak=False, dispatch_uid="tests.forge")
        try:
            ids = [jobs.log_and_return.apply_async((f"hostile:{i}",), queue=worker.queue).id for i in values]
        finally:
            signals.before_task_publish.disconnect(dispatch_uid="tests.forge")
        honest = jobs.log_and_return.apply_async(("honest",), queue=worker.queue).id
        worker.wait_for(lambda lines: any(line.get("task_id") == honest for line in worker.task_lines()), 60, "runs")
        samples = scrape(port)
        lines = worker.lines()
    key = (("task", "jobs.log_and_return"),)
    total = samples[("lantern_task_queue_wait_seconds_sum", key)]
    print(f"queue-wait sum after {len(ids)} hostile runs and 1 honest one: {total:.4f} s")
    assert math.isfinite(total) and 0 <= total < 600, total
    # None is an absent header (no wait); every hostile value was ignored: only the honest run observed.
    assert samples[("lantern_task_queue_wait_seconds_count", key)] == 1
    assert _counted(samples, "jobs.log_and_return", "success") == len(ids) + 1
    for task_id in ids:
        (line,) = [entry for entry in lines if entry["logger"] == "lantern.task" and entry.get("task_id") == task_id]
        assert line["queue_wait_ms"] is None and len(line["request_id"]) == 32
    warnings = [line for line in lines if "Ignored an invalid lantern_published_at header" in line["message"]]
    assert len(warnings) == 1
    assert not any("1e+308" in line["message"] or "ffffffffff" in line["message"] for line in lines)


def test_a_worker_with_only_instrument_writes_json_lines_with_the_publishers_ids(broker: str) -> None:
    """``celery -A proj worker`` (prefork) on a module that only calls instrument(app): every line it
    writes is JSON, and Celery's received / succeeded / failure lines carry the publisher's id."""
    import os

    os.environ["JOBS_BROKER_URL"] = broker
    from tests.jobs import celery_plain

    celery_plain.app.conf.broker_url = broker
    with run_worker(broker, pool="prefork", app="tests.jobs.celery_plain") as worker:
        with bind(request_id="req-plain-1"):
            ok = celery_plain.log.apply_async(("plain",), queue=worker.queue).id
            failed = celery_plain.fail.apply_async(queue=worker.queue).id
        worker.wait_for(
            lambda lines: sum(line["logger"] == "lantern.task" for line in lines) >= 2, 60, "both task lines"
        )
        raw = worker.output().splitlines()  # whole lines: the worker is still writing
    records = [json.loads(line) for line in raw]  # every line: a JSON object, none of Celery's text
    assert all(isinstance(record, dict) for record in records)

    def celery_line(task_id: str, logger: str, text: str) -> dict[str, Any]:
        (found,) = [r for r in records if r["logger"] == logger and text in r["message"] and task_id in r["message"]]
        return found

    for line in (
        celery_line(ok, "celery.worker.strategy", "received"),
        celery_line(ok, "celery.app.trace", "succeeded"),
        celery_line(failed, "celery.worker.strategy", "received"),
        celery_line(failed, "celery.app.trace", "raised unexpected"),
    ):
        assert line["request_id"] == "req-plain-1"
        assert line["task_id"] in (ok, failed) and line["task_name"] in ("plain.log", "plain.fail")
    assert celery_line(failed, "celery.app.trace", "raised unexpected")["level"] == "error"
    assert any(r["logger"] == "celery.apps.worker" and "starting" in r["message"] for r in records)
