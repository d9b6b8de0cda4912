"""What a run cost, on real workers: a prefork ``celery worker`` and a ``db_worker``.

Each task runs exactly 0, 1 and 25 queries through ``tests/jobs/costly.run_measured``,
which logs the reference (the query wrapper's own clock reads while they ran);
the run's ``lantern.task`` line must say the same ``db_queries`` and ``db_ms``
(to 0.01 ms); on the ``db_worker``, plus the worker's own write of the result,
which it makes inside the run. The five formats and the command are in
``tests/jobs/test_cost_lines.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers.services import require_redis
from tests.jobs.worker import Worker, run_worker
from tests.server.test_djtasks import env, stack  # noqa: F401  (the gunicorn and db_worker they start)

COUNTS = (0, 1, 25)


def _checked(lines: list[dict[str, Any]], task_id: str, n: int, result_write: bool = False) -> None:
    """The run's line says its ``n`` queries and their time; ``result_write``: and the one
    UPDATE with which django-tasks-db's worker stores the result, between the body and
    ``task_finished`` (inside the run, after the reference was taken)."""
    [measured] = [ln for ln in lines if ln["message"] == "queries measured" and ln.get("task_id") == task_id]
    [ended] = [ln for ln in lines if ln["logger"] == "lantern.task" and ln.get("task_id") == task_id]
    assert measured["reference_queries"] == n
    if result_write:
        assert ended["db_queries"] == n + 1
        assert ended["db_ms"] >= measured["reference_ms"] - 0.01
    else:
        assert ended["db_queries"] == n
        assert ended["db_ms"] == pytest.approx(measured["reference_ms"], abs=0.01)
    assert ended["outcome"] == "success" and ended["db_duplicates"] == 0
    assert isinstance(ended["cpu_ms"], float) and ended["cpu_ms"] >= 0
    assert measured["request_id"] == ended["request_id"]


@pytest.fixture(scope="module")
def celery_jobs() -> Iterator[tuple[Worker, ModuleType]]:
    broker = require_redis()
    os.environ["JOBS_BROKER_URL"] = broker
    from tests.jobs import celery_app

    celery_app.app.conf.broker_url = broker
    with run_worker(broker, pool="prefork") as worker:
        yield worker, celery_app


@pytest.mark.services
def test_a_celery_run_says_what_it_cost(celery_jobs: tuple[Worker, ModuleType]) -> None:
    worker, jobs = celery_jobs
    ids = {n: jobs.queries.apply_async((n,), queue=worker.queue).id for n in COUNTS}

    def ended(lines: list[dict[str, Any]]) -> bool:
        done = {ln.get("task_id") for ln in lines if ln["logger"] == "lantern.task"}
        return set(ids.values()) <= done

    worker.wait_for(ended, 60, "the three runs")
    lines = worker.lines()
    for n, task_id in ids.items():
        _checked(lines, task_id, n)


@pytest.mark.server
def test_a_django_tasks_run_says_what_it_cost(stack: tuple[Any, Any]) -> None:  # noqa: F811
    server, worker = stack
    ids = {}
    for n in COUNTS:
        response = httpx.get(f"{server.url}/enqueue/queries/{n}/", timeout=10)
        assert response.status_code == 200
        ids[n] = response.json()["id"]

    def ended(lines: list[dict[str, Any]]) -> bool:
        done = {ln.get("task_id") for ln in lines if ln["logger"] == "lantern.task"}
        return set(ids.values()) <= done

    lines = worker.wait_for(ended)
    for n, task_id in ids.items():
        _checked(lines, task_id, n, result_write=True)
