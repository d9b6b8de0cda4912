"""`make run`'s wiring on real processes: gunicorn's master starts the job worker
(EXAMPLE_BACKGROUND_WORKER=1), a large org's export is queued by the web and
written by the worker, both log the same request id, and stopping gunicorn
stops the worker.

On the embedded defaults (SQLite, no REDIS_URL) the worker is django.tasks'
db_worker; with REDIS_URL it is Celery's, on the same Redis as the cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import BIN, EXAMPLE, run_server
from tests.helpers.services import require_redis
from tests.jobs.worker import forget_queues

pytestmark = pytest.mark.server

WAIT = 60.0  # upper bound on each poll below


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=EXAMPLE, env=env, check=True, timeout=120)


def worker_pid(master: int) -> int | None:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    for pid in children:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"db_worker" in command or b"celery" in command:
                return int(pid)
        except OSError:
            continue
    return None


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def poll(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


# Empty, not absent: run_server lays env over os.environ. SQLite, as make run.
BASE_ENV = {"DATABASE_URL": "", "REDIS_URL": "", "DJANGO_SETTINGS_MODULE": "config.settings"}


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated and seeded once (make run's steps); each test works on a copy."""
    path = tmp_path_factory.mktemp("example-db") / "db.sqlite3"
    code = (
        "from django.core.management import call_command as c; c('migrate', '--noinput', verbosity=0); "
        "c('seed_demo'); c('seed_large_org', '--tasks', '600')"  # over the default inline limit of 500
    )
    manage({**os.environ, **BASE_ENV, "SQLITE_PATH": str(path)}, "shell", "-c", code)
    return path


@pytest.fixture(params=["django.tasks", "celery"])
def jobs_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment for one jobs backend; Celery's needs the real Redis."""
    env = {**os.environ, **BASE_ENV}
    if request.param == "django.tasks":
        yield env
        return
    redis_url = require_redis()
    queue = f"lantern-example-{uuid.uuid4().hex[:12]}"  # no leftovers from another run
    yield {**env, "REDIS_URL": redis_url, "EXAMPLE_CELERY_QUEUE": queue}
    forget_queues(redis_url, queue)


def test_make_run_exports_a_large_org_in_the_background(
    tmp_path: Path, seeded_db: Path, jobs_env: dict[str, str]
) -> None:
    """Queued by the web (202, its request id on the page), written by the worker
    that gunicorn started; the worker's lines carry the web's request id."""
    shutil.copy(seeded_db, tmp_path / "db.sqlite3")
    env = dict(jobs_env)
    env.update(
        {
            "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
            "LANTERN_LOG_FORMAT": "json",
            "EXAMPLE_BACKGROUND_WORKER": "1",
        }
    )
    (tmp_path / "prometheus").mkdir()
    with run_server("gunicorn", args=["--workers", "1"], env=env) as server:
        poll(lambda: worker_pid(server.process.pid) is not None, "the db_worker to start")
        worker = worker_pid(server.process.pid)
        assert worker is not None
        with httpx.Client(base_url=server.url, timeout=10) as client:
            client.get("/accounts/login/")
            token = client.cookies["csrftoken"]
            login = {"username": "demo", "password": "demo-password", "csrfmiddlewaretoken": token}
            assert client.post("/accounts/login/", data=login).status_code == 302
            response = client.get("/orgs/initech/tasks/export.csv")
            assert response.status_code == 202
            request_id = response.headers["X-Request-Id"]
            assert request_id in response.text
            match = re.search(r'href="(/orgs/initech/exports/[0-9a-f-]+/download\.csv)"', response.text)
            assert match is not None
            poll(lambda: client.get(match.group(1)).status_code == 200, "the export to be done")
            csv_lines = client.get(match.group(1)).text.splitlines()
        assert len(csv_lines) == 601

        def worker_lines() -> list[dict[str, object]]:
            names = {"tasks.jobs.export_tasks", "tasks.export_tasks"}  # django.tasks', Celery's
            return [ln for ln in server.json_lines() if ln.get("task_name") in names]

        poll(lambda: any(ln["logger"] == "lantern.task" for ln in worker_lines()), "the task line")
        exported = [ln for ln in worker_lines() if ln["logger"] == "tasks.views"]
        (task_line,) = [ln for ln in worker_lines() if ln["logger"] == "lantern.task"]
        assert exported and exported[0]["exported_count"] == 600
        assert {exported[0]["request_id"], task_line["request_id"]} == {request_id}
        assert task_line["outcome"] == "success"
        access = [ln for ln in server.json_lines() if ln["logger"] == "access" and ln.get("status") == 202]
        assert access[0]["request_id"] == request_id
    poll(lambda: gone(worker), "the db_worker to stop with gunicorn")
