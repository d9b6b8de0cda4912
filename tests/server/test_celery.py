"""Celery on real workers (solo and prefork) over the Redis of REDIS_URL, its database included.

The workers are ``celery -A tests.jobs.celery_app worker`` subprocesses,
started and stopped here, each on a queue of its own; publishers are this
process (through a real request) or separate publisher processes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.test import Client

from django_lantern import bind
from tests.helpers.servers import free_port, whole_lines
from tests.helpers.services import require_redis
from tests.jobs.worker import ROOT, Worker, broker_url, job_env, run_worker, scrape

pytestmark = pytest.mark.services

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def broker() -> str:
    return broker_url(require_redis())


@pytest.fixture(scope="module")
def jobs(broker: str) -> ModuleType:
    """The Celery app module, imported in this process to publish (instrumented like a web app)."""
    import os

    os.environ["JOBS_BROKER_URL"] = broker
    from tests.jobs import celery_app

    celery_app.app.conf.broker_url = broker
    return celery_app


@pytest.fixture(scope="module")
def side_files() -> Iterator[dict[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="lantern-celery-") as tmp:
        yield {"sentry": Path(tmp) / "sentry.jsonl", "spans": Path(tmp) / "spans.jsonl"}


@pytest.fixture(scope="module")
def solo(broker: str, side_files: dict[str, Path]) -> Iterator[tuple[Worker, int]]:
    """One solo worker for the module: metrics on a port, Sentry events and spans to files."""
    port = free_port()
    lantern = {"TASK_METRICS_PORT": port, "TASK_METRICS_ADDRESS": "127.0.0.1"}
    with run_worker(
        broker,
        pool="solo",
        lantern=lantern,
        JOBS_SENTRY_EVENTS=str(side_files["sentry"]),
        JOBS_OTEL_SPANS=str(side_files["spans"]),
    ) as worker:
        yield worker, port


def _lines_of(worker: Worker, task_id: str) -> list[dict[str, Any]]:
    return [line for line in worker.lines() if line.get("task_id") == task_id]


def _wait_task_line(worker: Worker, task_id: str, outcome: str = "success", timeout: float = 20) -> None:
    worker.wait_for(
        lambda lines: any(
            line["logger"] == "lantern.task" and line.get("task_id") == task_id and line["outcome"] == outcome
            for line in lines
        ),
        timeout,
        f"task line {outcome} for {task_id}",
    )


@pytest.mark.urls("tests.urls_jobs")
def test_a_task_enqueued_inside_a_request_logs_that_requests_id(
    solo: tuple[Worker, int], jobs: ModuleType, client: Client
) -> None:
    """The worker's lines for a task queued by a view carry the request's id, and the task ids."""
    worker, _ = solo
    response = client.get(f"/enqueue/?queue={worker.queue}", headers={"X-Request-Id": "req-celery-1"})
    assert response.status_code == 200
    worker.wait_for(
        lambda lines: any(line.get("tag") == "from-request" for line in lines), 20, "the task body of the request"
    )
    body = next(line for line in worker.lines() if line.get("tag") == "from-request")
    assert body["request_id"] == "req-celery-1"
    assert body["task_name"] == "jobs.log_and_return" and body["root_task_id"] == body["task_id"]
    _wait_task_line(worker, body["task_id"])
    task_line = next(line for line in worker.task_lines() if line["task_id"] == body["task_id"])
    assert task_line["request_id"] == "req-celery-1" and task_line["level"] == "info"
    assert task_line["task"] == "jobs.log_and_return" and task_line["retries"] == 0
    assert task_line["duration_ms"] >= 0 and task_line["queue_wait_ms"] >= 0


def test_a_failing_task_is_one_error_line_counted_failed_and_a_tagged_event(
    solo: tuple[Worker, int], jobs: ModuleType, side_files: dict[str, Path]
) -> None:
    """A task that raises: exactly one ERROR task line, counted as a failure, its Sentry event tagged with the ids."""
    worker, port = solo
    with bind(request_id="req-fail-1"):
        task_id = jobs.fail.apply_async(queue=worker.queue).id
    _wait_task_line(worker, task_id, "failure")
    task_lines = [line for line in worker.task_lines() if line["task_id"] == task_id]
    assert len(task_lines) == 1
    line = task_lines[0]
    assert line["level"] == "error" and line["outcome"] == "failure" and line["error_type"] == "ValueError"
    assert line["request_id"] == "req-fail-1"
    samples = scrape(port)
    assert samples[("lantern_tasks_total", (("outcome", "failure"), ("task", "jobs.fail")))] == 1
    assert ("lantern_tasks_total", (("outcome", "success"), ("task", "jobs.fail"))) not in samples
    # Celery's own error log line became the one Sentry event; the task line did not add a second.
    deadline = time.monotonic() + 10
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not events:
        if side_files["sentry"].exists():
            import json

            events = [
                event
                for event in map(json.loads, whole_lines(side_files["sentry"].read_text()).splitlines())
                if event.get("tags", {}).get("task_id") == task_id
            ]
        time.sleep(0.1)
    assert len(events) == 1, events
    assert events[0]["tags"]["request_id"] == "req-fail-1"
    assert events[0]["tags"]["task_name"] == "jobs.fail"


def test_a_failed_tasks_arguments_reach_no_line_and_no_event(
    solo: tuple[Worker, int], jobs: ModuleType, side_files: dict[str, Path]
) -> None:
    """A real worker: Celery's failure line shows ``[redacted]`` for the arguments, and the
    password (a ``new_password`` argument) is in no line and not in the Sentry event."""
    import json

    worker, _ = solo
    password = "plain-password-" + str(73)
    task_id = jobs.reset_password.apply_async((7, password), queue=worker.queue).id
    _wait_task_line(worker, task_id, "failure")
    (failure,) = [line for line in _lines_of(worker, task_id) if line["logger"] == "celery.app.trace"]
    assert failure["data"]["args"] == failure["data"]["kwargs"] == "[redacted]"
    assert password not in json.dumps(worker.lines())
    deadline = time.monotonic() + 10
    events: list[str] = []
    while time.monotonic() < deadline and not events:
        if side_files["sentry"].exists():
            events = [line for line in whole_lines(side_files["sentry"].read_text()).splitlines() if task_id in line]
        time.sleep(0.1)
    assert events and all(password not in event for event in events)


def test_a_retried_task_keeps_its_ids(solo: tuple[Worker, int], jobs: ModuleType) -> None:
    """Both runs of a retried task share task_id and request_id; the lines say retry then success."""
    worker, _ = solo
    with bind(request_id="req-retry-1"):
        task_id = jobs.retry_once.apply_async(queue=worker.queue).id
    _wait_task_line(worker, task_id, "success")
    runs = [line for line in worker.task_lines() if line["task_id"] == task_id]
    assert [(r["outcome"], r["retries"], r["level"]) for r in runs] == [("retry", 0, "warning"), ("success", 1, "info")]
    bodies = [line for line in _lines_of(worker, task_id) if line["message"] == "retry body"]
    assert [b["attempt"] for b in bodies] == [0, 1]
    assert {line["request_id"] for line in _lines_of(worker, task_id)} == {"req-retry-1"}


def test_a_publisher_outside_any_context_gets_a_fresh_id(solo: tuple[Worker, int], jobs: ModuleType) -> None:
    """No context at publish time (like beat): the run gets a fresh id of its own."""
    worker, _ = solo
    first = jobs.log_and_return.apply_async(("bare-1",), queue=worker.queue).id
    second = jobs.log_and_return.apply_async(("bare-2",), queue=worker.queue).id
    _wait_task_line(worker, first)
    _wait_task_line(worker, second)
    ids = [{line["request_id"] for line in _lines_of(worker, task_id)} for task_id in (first, second)]
    assert all(len(found) == 1 and HEX32.fullmatch(next(iter(found))) for found in ids)
    assert ids[0] != ids[1]


def test_a_hostile_request_id_header_is_replaced(solo: tuple[Worker, int], jobs: ModuleType) -> None:
    """A request id header that could forge a field is replaced and warned about."""
    worker, _ = solo
    task_id = jobs.log_and_return.apply_async(
        ("hostile",), queue=worker.queue, headers={"lantern_request_id": 'x" level=critical'}
    ).id
    _wait_task_line(worker, task_id)
    (found,) = {line["request_id"] for line in _lines_of(worker, task_id)}
    assert HEX32.fullmatch(found)
    assert any("invalid request id (length 17) from a task message" in line["message"] for line in worker.lines())


def test_a_child_task_keeps_the_request_id_and_names_its_parent(solo: tuple[Worker, int], jobs: ModuleType) -> None:
    """A task queued by a task carries the first publisher's id, its parent's id and the root id."""
    worker, _ = solo
    with bind(request_id="req-chain-1"):
        parent_id = jobs.spawn_child.apply_async(queue=worker.queue).id

    def child_done(lines: list[dict[str, Any]]) -> bool:
        return any(line.get("parent_task_id") == parent_id and line["logger"] == "lantern.task" for line in lines)

    worker.wait_for(child_done, 20, "the child task line")
    child = next(line for line in worker.lines() if line.get("tag") == "child" and line["parent_task_id"] == parent_id)
    assert child["request_id"] == "req-chain-1"
    assert child["root_task_id"] == parent_id and child["task_id"] != parent_id


def test_the_task_span_is_linked_to_the_publishing_trace(
    solo: tuple[Worker, int], jobs: ModuleType, side_files: dict[str, Path]
) -> None:
    """With tracing on, the worker's span links to the publisher's span and its ids are on the task's lines."""
    import json

    from opentelemetry.sdk.trace import TracerProvider

    from django_lantern import tracing

    worker, _ = solo
    provider = TracerProvider()
    tracing.enable(provider)
    try:
        with provider.get_tracer("tests").start_as_current_span("publisher") as publisher:
            task_id = jobs.log_and_return.apply_async(("traced",), queue=worker.queue).id
    finally:
        tracing.disable()
    _wait_task_line(worker, task_id)
    published = publisher.get_span_context()
    spans = [json.loads(line) for line in side_files["spans"].read_text().splitlines()]
    task_span = next(
        s for s in spans if any(link["span_id"] == format(published.span_id, "016x") for link in s["links"])
    )
    assert task_span["name"] == "jobs.log_and_return process" and task_span["kind"] == "CONSUMER"
    assert task_span["links"][0]["trace_id"] == format(published.trace_id, "032x")
    body = next(line for line in _lines_of(worker, task_id) if line.get("tag") == "traced")
    assert (body["trace_id"], body["span_id"]) == (task_span["trace_id"], task_span["span_id"])


def test_prefork_two_publishers_thousand_tasks(broker: str, jobs: ModuleType) -> None:
    """1,000 tasks from 2 publisher processes on a prefork worker with 2 children: every line carries its
    publisher's id, and the worker's metrics total equals the tasks run, summed across the children."""
    per_publisher = 500
    with tempfile.TemporaryDirectory(prefix="lantern-prom-") as prom_dir:
        port = free_port()
        lantern = {"TASK_METRICS_PORT": port, "TASK_METRICS_ADDRESS": "127.0.0.1"}
        with run_worker(
            broker, pool="prefork", concurrency=2, lantern=lantern, PROMETHEUS_MULTIPROC_DIR=prom_dir
        ) as worker:
            publishers = [
                subprocess.Popen(
                    [sys.executable, "-m", "tests.jobs.publish", rid, str(per_publisher), worker.queue],
                    cwd=ROOT,
                    env=job_env(broker, worker.queue),
                )
                for rid in ("publisher-a", "publisher-b")
            ]
            for publisher in publishers:
                assert publisher.wait(timeout=90) == 0
            worker.wait_for(
                lambda lines: sum(line["logger"] == "lantern.task" for line in lines) >= 1000,
                150,
                "1000 task lines",
                interval=1.0,
            )
            lines = worker.lines()
            samples = scrape(port)
            pids = {path.name.split("_")[1] for path in Path(prom_dir).glob("counter_*.db")}
    bodies = [line for line in lines if line["message"] == "task body"]
    assert len(bodies) == 2 * per_publisher
    for body in bodies:
        assert body["request_id"] == body["tag"].split(":")[0], body
    task_lines = [line for line in lines if line["logger"] == "lantern.task"]
    assert len(task_lines) == 1000 and {line["outcome"] for line in task_lines} == {"success"}
    per_id: dict[str, int] = {}
    for line in task_lines:
        per_id[line["request_id"]] = per_id.get(line["request_id"], 0) + 1
    assert per_id == {"publisher-a": per_publisher, "publisher-b": per_publisher}
    key = ("lantern_tasks_total", (("outcome", "success"), ("task", "jobs.log_and_return")))
    assert samples[key] == 1000
    assert samples[("lantern_task_duration_seconds_count", (("task", "jobs.log_and_return"),))] == 1000
    assert samples[("lantern_task_queue_wait_seconds_count", (("task", "jobs.log_and_return"),))] == 1000
    assert len(pids) >= 2, pids  # both children ran tasks; the scrape summed their files
