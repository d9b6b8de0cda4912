"""N+1 detection in a real Celery worker (prefork, its pool child) and a real management command
run as a process: one WARNING with count 10 and the loop's line, with the run's ids."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.servers import run_server
from tests.helpers.services import require_redis
from tests.jobs import repeat
from tests.jobs.djtasks_worker import migrate, run_db_worker
from tests.jobs.worker import run_worker

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
LINE = next(n for n, text in enumerate(inspect.getsource(repeat).splitlines(), 1) if "REPEAT_LINE" in text)
CALLSITE = f"tests/jobs/repeat.py:{LINE}"


def _n_plus_one(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("logger") == "lantern.db" and line.get("insight") == "n_plus_one"]


def test_a_real_celery_worker_logs_one_n_plus_one() -> None:
    broker = require_redis()
    os.environ["JOBS_BROKER_URL"] = broker
    from tests.jobs import celery_app

    celery_app.app.conf.broker_url = broker
    with run_worker(broker, pool="prefork") as worker:
        few = celery_app.repeat_query.apply_async((3,), queue=worker.queue)
        many = celery_app.repeat_query.apply_async((10,), queue=worker.queue)
        for result in (few, many):
            worker.wait_for(
                lambda lines, rid=result.id: any(
                    line["logger"] == "lantern.task" and line.get("task_id") == rid for line in lines
                ),
                30,
                f"the task line of {result.id}",
            )
        lines = worker.lines()
    (line,) = _n_plus_one(lines)
    assert line["count"] == 10 and line["callsite"] == CALLSITE and line["fingerprint"] == "SELECT %s"
    assert line["task_id"] == many.id and line["task_name"] == "jobs.repeat_query"


def test_a_real_command_logs_one_n_plus_one() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.jobs.settings", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "django", "lantern_repeat_query"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(text) for text in result.stdout.splitlines() if text.startswith("{")]
    (line,) = _n_plus_one(lines)
    assert line["count"] == 10 and line["callsite"] == CALLSITE
    assert line["command"] == "lantern_repeat_query" and line["request_id"] not in ("", "-")


def test_a_real_db_worker_logs_one_n_plus_one(tmp_path: Path) -> None:
    """django.tasks: a task enqueued by a real gunicorn, run by a real db_worker (one shared SQLite file)."""
    env = {
        **os.environ,
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "tests.jobs.djtasks_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "LANTERN_LOG_FORMAT": "json",
    }
    migrate(env)
    with run_server("gunicorn", args=["--workers", "1"], env=env) as server, run_db_worker(env) as worker:
        ids = [httpx.get(f"{server.url}/enqueue/repeat/?times={n}", timeout=10).json()["id"] for n in (3, 10)]

        def done(lines: list[dict[str, Any]]) -> bool:
            ended = {line.get("task_id") for line in lines if line["logger"] == "lantern.task"}
            return set(ids) <= ended

        lines = worker.wait_for(done)
    (line,) = _n_plus_one(lines)
    assert line["count"] == 10 and line["callsite"] == CALLSITE
    assert line["task_id"] == ids[1] and line["task_name"] == "tests.jobs.djtasks_jobs.repeat"
