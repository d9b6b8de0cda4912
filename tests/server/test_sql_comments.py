"""SQL comments as a DBA sees them: ``pg_stat_activity.query``, read from a second connection
while a real server's request, a real Celery worker's task and a management command each hold
a ``pg_sleep`` open, carries the route, the request id and the task or command.

On the PostgreSQL of ``DATABASE_URL`` (no tables needed) and the Redis of ``REDIS_URL``.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from django_lantern import bind
from tests.helpers.servers import BIN, EXAMPLE, ROOT, run_server
from tests.helpers.services import require_postgres, require_redis
from tests.jobs.worker import Worker, run_worker
from tests.metrics.test_sql_comments import pairs

pytestmark = pytest.mark.services

SLEEP = 4.0  # long enough for the poll below to see the statement on a loaded machine
SETTINGS = "tests.server.sqlcomments_settings"


@pytest.fixture(scope="module")
def database() -> str:
    return require_postgres()


def env(database: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLE)]),
        "DATABASE_URL": database,
        "LANTERN_LOG_FORMAT": "json",
    }


def running_statement(database: str, marker: str, timeout: float = 60.0) -> str:
    """The text of the other session's statement that contains ``marker``, as pg_stat_activity shows it."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database, autocommit=True, connect_timeout=5) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(
                "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active'"
                " AND position(%s in query) > 0",
                (marker,),
            ).fetchall()
            if rows:
                return str(rows[0][0])
            time.sleep(0.05)
    pytest.fail(f"no running statement with {marker!r} in pg_stat_activity")


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_requests_statement_names_its_route_and_request_id(database: str, kind: str) -> None:
    request_id = f"sqlc-{uuid.uuid4().hex}"
    answers: list[Any] = []
    with run_server(kind, env=env(database)) as server:

        def call() -> None:
            headers = {"X-Request-Id": request_id}
            answers.append(httpx.get(f"{server.url}/sqlc/sleep/{int(SLEEP * 1000)}/", headers=headers, timeout=60))

        thread = threading.Thread(target=call)
        thread.start()
        try:
            statement = running_statement(database, request_id)
        finally:
            thread.join(60)
    assert statement.startswith("SELECT pg_sleep(4.0) /*")
    assert pairs(statement) == {"request_id": request_id, "route": "/sqlc/sleep/<int:ms>/"}
    assert answers[0].status_code == 200 and answers[0].headers["X-Request-Id"] == request_id


@pytest.fixture
def worker(database: str) -> Iterator[Worker]:
    broker = require_redis()
    from tests.server import sqlcomments_celery

    sqlcomments_celery.app.conf.broker_url = broker
    with run_worker(broker, pool="solo", app="tests.server.sqlcomments_celery", **env(database)) as running:
        yield running


def test_a_tasks_statement_names_its_task_and_the_publishers_request_id(database: str, worker: Worker) -> None:
    from tests.server import sqlcomments_celery

    request_id = f"sqlc-{uuid.uuid4().hex}"
    with bind(request_id=request_id):
        sqlcomments_celery.sleep.apply_async((SLEEP,), queue=worker.queue)
    statement = running_statement(database, request_id)
    assert statement.startswith("SELECT pg_sleep(4.0) /*")
    assert pairs(statement) == {"request_id": request_id, "task": "sqlc.sleep"}


def test_a_commands_statement_names_its_command(database: str) -> None:
    marker = f"sqlc-{uuid.uuid4().hex}"
    code = (
        "from django.db import connection\n"
        f"connection.cursor().execute(\"SELECT pg_sleep({SLEEP}), '{marker}'\")\n"
        "from django_lantern.context import get_request_id\n"
        "print(get_request_id())"
    )
    process = subprocess.Popen(
        [str(BIN / "python"), "manage.py", "shell", "-c", code],
        cwd=EXAMPLE,
        env={**os.environ, **env(database)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        statement = running_statement(database, marker)
    finally:
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    found = pairs(statement)
    # The printed id, wherever the log lines landed around it: the slow-query WARNING is
    # written by the log writer thread, which can land between print()'s id and its newline.
    [printed] = re.findall(r"^([0-9a-f]{32})", output.decode(), re.MULTILINE)
    assert found == {"command": "shell", "request_id": printed}


# Tests that count the queries something runs (Django's assertNumQueries, pytest-django's
# django_assert_num_queries), wherever they are. Texts captured on PostgreSQL do show the comment
# (Django records what the driver sent): pinned in tests/metrics/test_sql_comments.py, documented.
COUNTING = re.compile(r"assertNumQueries|django_assert_num_queries")
EVERY_KEY = "callsite,command,request_id,route,task,traceparent"


def counting_test_files() -> list[str]:
    candidates = [*(ROOT / "tests").rglob("test_*.py"), *(ROOT / "example").rglob("tests.py")]
    own = {Path(__file__).resolve(), (ROOT / "tests" / "metrics" / "test_sql_comments.py").resolve()}
    return [
        str(path.relative_to(ROOT))
        for path in sorted(candidates)
        if path.resolve() not in own and COUNTING.search(path.read_text())
    ]


def test_query_counting_tests_pass_unchanged_with_every_key_on(database: str) -> None:
    """The example's (and the suite's) query-counting tests, run as they are with every key on:
    the same counts, on the real PostgreSQL. The example's settings read LANTERN_SQL_COMMENTS."""
    files = counting_test_files()
    assert "tests/example/test_access_user_id.py" in files
    comments_on = {
        **os.environ,
        "LANTERN_SQL_COMMENTS": EVERY_KEY,
        "DATABASE_URL": database,
        "LANTERN_TEST_DB_NAME": f"test_lantern_sqlc_{uuid.uuid4().hex[:8]}",
    }
    shown = subprocess.run(
        [
            str(BIN / "python"),
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; print(','.join(s.LANTERN['SQL_COMMENTS']))",
        ],
        cwd=EXAMPLE,
        env=comments_on,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shown.stdout.strip().splitlines()[-1] == EVERY_KEY
    run = subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not server and not system",
            *files,
        ],
        cwd=ROOT,
        env=comments_on,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
