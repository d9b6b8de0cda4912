"""A real db_worker process runs tasks enqueued inside requests served by a real gunicorn.

Both processes share a SQLite file and a Prometheus multi-process directory,
so the worker's counters show on the web's /metrics. Every wait is a bounded
poll; nothing asserts how long anything took.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers.servers import BIN, EXAMPLE, Server, run_server
from tests.jobs.djtasks_worker import Worker, migrate, run_db_worker, shared_env

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("djtasks")
    multiproc = tmp / "prometheus"
    multiproc.mkdir()
    env = shared_env(tmp, "tests.jobs.djtasks_settings", PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    migrate(env)
    return env


@pytest.fixture(scope="module")
def stack(env: dict[str, str]) -> Iterator[tuple[Server, Worker]]:
    # gunicorn first: its master wipes the metrics directory as it starts.
    with run_server("gunicorn", args=["--workers", "1"], env=env) as server, run_db_worker(env) as worker:
        yield server, worker


def task_lines(lines: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "lantern.task" and line.get("task") == task]


def test_a_task_enqueued_in_a_request_logs_that_request_id_on_the_worker(stack: tuple[Server, Worker]) -> None:
    """The worker's lines for the task, its own and the task line, carry the web request's id."""
    server, worker = stack
    response = httpx.get(server.url + "/enqueue/ok/", headers={"X-Request-Id": "web-req-ok-1"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "web-req-ok-1"
    lines = worker.wait_for(lambda ls: bool(task_lines(ls, "tests.jobs.djtasks_jobs.record")))
    (line,) = task_lines(lines, "tests.jobs.djtasks_jobs.record")
    assert line["request_id"] == "web-req-ok-1"
    assert line["level"] == "info"
    assert line["outcome"] == "success"
    assert line["retries"] == 0
    assert line["task_id"] == response.json()["id"]
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert isinstance(line["queue_wait_ms"], float) and line["queue_wait_ms"] >= 0
    (own,) = [ln for ln in lines if ln["logger"] == "tests.djtasks"]
    assert own["request_id"] == "web-req-ok-1"
    assert own["task_name"] == "tests.jobs.djtasks_jobs.record"
    # The web side logged its access line with the same id.
    access = [ln for ln in server.json_lines() if ln["logger"] == "access" and ln.get("path") == "/enqueue/ok/"]
    assert access and access[0]["request_id"] == "web-req-ok-1"


def test_a_failing_task_is_one_error_line_and_counted_as_failed(stack: tuple[Server, Worker]) -> None:
    """A task that raises: exactly one ERROR task line with the exception, and
    ``lantern_tasks_total{outcome="failure"}`` on the web's /metrics."""
    server, worker = stack
    httpx.get(server.url + "/enqueue/fail/", headers={"X-Request-Id": "web-req-fail-1"}, timeout=10)
    lines = worker.wait_for(lambda ls: bool(task_lines(ls, "tests.jobs.djtasks_jobs.explode")))
    (line,) = task_lines(lines, "tests.jobs.djtasks_jobs.explode")
    assert line["level"] == "error"
    assert line["outcome"] == "failure"
    assert line["request_id"] == "web-req-fail-1"
    assert line["error_type"] == "ValueError"
    metrics = httpx.get(server.url + "/metrics", timeout=10).text
    assert 'lantern_tasks_total{outcome="failure",task="tests.jobs.djtasks_jobs.explode"} 1.0' in metrics
    assert 'lantern_task_duration_seconds_count{task="tests.jobs.djtasks_jobs.explode"} 1.0' in metrics
    assert 'lantern_task_queue_wait_seconds_count{task="tests.jobs.djtasks_jobs.explode"} 1.0' in metrics


def test_a_task_enqueued_by_a_command_logs_the_command_id(env: dict[str, str], stack: tuple[Server, Worker]) -> None:
    """A management command has its own request id; its task runs under it on the worker."""
    _, worker = stack
    code = (
        "from tests.jobs import djtasks_jobs as jobs; from django_lantern.context import get_request_id; "
        "jobs.record.enqueue(note='from-shell'); print(get_request_id())"
    )
    shell = subprocess.run(
        [str(BIN / "python"), "manage.py", "shell", "-c", code],
        cwd=EXAMPLE,
        env={**env, "LANTERN_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    command_id = shell.stdout.strip().splitlines()[-1]
    assert command_id != "-"

    def from_shell(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [ln for ln in lines if ln.get("note") == "from-shell"]

    (own,) = from_shell(worker.wait_for(lambda ls: bool(from_shell(ls))))
    assert own["request_id"] == command_id
