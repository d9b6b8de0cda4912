"""``LANTERN["DEBUG_ON_ERROR"]`` on real servers and workers: gunicorn and uvicorn
requests, the django.tasks db_worker, a prefork Celery worker with 2 children.

A failed request's or run's DEBUG lines come out before its ERROR line and
its access or task line, with its request id; a good one's appear nowhere.
Every wait is a bounded poll; nothing asserts how long anything took.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from django_lantern import bind
from tests.helpers.servers import Server, run_server
from tests.helpers.services import require_redis
from tests.jobs.djtasks_worker import migrate, run_db_worker, shared_env
from tests.jobs.worker import run_worker

pytestmark = pytest.mark.server

VIEW_LOGGER = "tests.debug_on_error"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("debug-on-error")
    env = shared_env(tmp, "tests.server.debug_on_error_settings")
    migrate(env)
    return env


def wait_lines(read: Callable[[], list[dict[str, Any]]], done: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    """The lines once ``done`` holds (the handler writes from a thread of its own); bounded."""
    deadline = time.monotonic() + 30
    while True:
        lines = read()
        if done(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def index(lines: list[dict[str, Any]], match: Callable[[dict[str, Any]], bool]) -> int:
    found = [i for i, line in enumerate(lines) if match(line)]
    assert len(found) == 1, found
    return found[0]


def check_request_order(server: Server, path: str, marker: str) -> None:
    """``path`` fails: its DEBUG lines, then django.request's ERROR, then the access line, one request id."""
    response = httpx.get(server.url + path, timeout=10)
    assert response.status_code == 500
    rid = response.headers["X-Request-Id"]

    def access(line: dict[str, Any]) -> bool:
        return line["logger"] == "access" and line["request_id"] == rid

    lines = wait_lines(server.json_lines, lambda ls: any(access(line) for line in ls))
    debug = index(lines, lambda line: marker in line["message"])
    error = index(lines, lambda line: line["logger"] == "django.request" and line["request_id"] == rid)
    assert debug < error < index(lines, access)
    assert (lines[debug]["level"], lines[debug]["logger"], lines[debug]["request_id"]) == ("debug", VIEW_LOGGER, rid)
    assert lines[debug]["ts"] <= lines[error]["ts"]


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_failed_requests_debug_lines_and_only_those(kind: str, env: dict[str, str]) -> None:
    args = ["--workers", "2"] + (["--worker-class", "gthread", "--threads", "2"] if kind == "gunicorn" else [])
    with run_server(kind, args=args, env=env) as server:
        ok = httpx.get(server.url + "/debug/ok/", timeout=10)
        assert ok.status_code == 200
        check_request_order(server, "/debug/fail/", "order-fail-7")
        if kind == "uvicorn":
            check_request_order(server, "/debug/afail/", "order-afail-7")
            assert httpx.get(server.url + "/debug/aok/", timeout=10).status_code == 200
        wait_lines(server.json_lines, lambda ls: sum(line["logger"] == "access" for line in ls) >= 3)
        output = server.output()
    assert "order-ok-7" not in output and "order-aok-7" not in output
    assert "charging card ending 4242" in output


def test_a_failed_django_task_runs_debug_lines_on_the_db_worker(env: dict[str, str]) -> None:
    with run_server("gunicorn", args=["--workers", "1"], env=env) as server, run_db_worker(env) as worker:
        good = httpx.get(server.url + "/enqueue/ok/", timeout=10).json()["id"]
        bad = httpx.get(server.url + "/enqueue/fail/", timeout=10).json()["id"]

        def task_line(ident: str) -> Callable[[dict[str, Any]], bool]:
            return lambda line: line["logger"] == "lantern.task" and line.get("task_id") == ident

        lines = worker.wait_for(lambda ls: any(map(task_line(good), ls)) and any(map(task_line(bad), ls)))
    debug = index(lines, lambda line: "djtask-step-7" in line["message"])
    # The backport logs the failure on "django_tasks", Django 6's own framework on "django.tasks".
    error = index(lines, lambda line: line["logger"] in ("django_tasks", "django.tasks") and line["level"] == "error")
    assert debug < error < index(lines, task_line(bad))
    assert lines[debug]["level"] == "debug" and lines[debug]["task_id"] == bad
    assert lines[debug]["request_id"] == lines[index(lines, task_line(bad))]["request_id"]
    assert not [line for line in lines if "djtask-quiet-7" in line["message"]]


@pytest.mark.services
def test_a_failed_celery_runs_debug_lines_on_a_prefork_worker() -> None:
    broker = require_redis()
    os.environ["JOBS_BROKER_URL"] = broker
    from tests.jobs import celery_app

    celery_app.app.conf.broker_url = broker
    with run_worker(broker, pool="prefork", concurrency=2, lantern={"DEBUG_ON_ERROR": True}) as worker:
        with bind(request_id="req-debug-fail"):
            failed = celery_app.debug_then_fail.apply_async(("bad-run",), queue=worker.queue).id
        with bind(request_id="req-debug-ok"):
            celery_app.debug_then_succeed.apply_async(("good-run",), queue=worker.queue)
        worker.wait_for(lambda ls: sum(line["logger"] == "lantern.task" for line in ls) >= 2, 60, "both task lines")
        lines = worker.lines()
    debug = index(lines, lambda line: "tag=bad-run" in line["message"])
    error = index(lines, lambda line: line["logger"] == "celery.app.trace" and failed in line["message"])
    task = index(lines, lambda line: line["logger"] == "lantern.task" and line.get("task_id") == failed)
    assert debug < error < task
    assert (lines[debug]["level"], lines[debug]["request_id"], lines[debug]["task_id"]) == (
        "debug",
        "req-debug-fail",
        failed,
    )
    assert not [line for line in lines if "tag=good-run" in line["message"]]
