"""N+1 detection on a real uvicorn (ASGI): one WARNING with count 10 and the loop's line for a sync
and an async view, none for the joined version. The rows come from a database of the test's own (a fresh
SQLite file, migrated and seeded with the example's ``seed_demo``), so the test never depends on what
another run left in a shared database."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import BIN, EXAMPLE, run_server
from tests.metrics.test_insights import CALLSITE, ORG_QUERY

pytestmark = pytest.mark.server


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seeded_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The server's environment with a SQLite database of its own, migrated and seeded (10 tasks)."""
    env = {
        "LANTERN_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "tests.server.insights_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        # An empty DATABASE_URL is the example's "use SQLITE_PATH", whatever the caller exported.
        "DATABASE_URL": "",
        "SQLITE_PATH": str(tmp_path_factory.mktemp("insights-db") / "db.sqlite3"),
    }
    full = {**os.environ, **env}
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
        subprocess.run(
            [str(BIN / "python"), "manage.py", *command], cwd=EXAMPLE, env=full, check=True, capture_output=True
        )
    yield env


@pytest.mark.parametrize("path", ["/insights/names/", "/insights/async-names/"])
def test_real_uvicorn_logs_one_n_plus_one(path: str, seeded_env: dict[str, str]) -> None:
    with run_server("uvicorn", env=seeded_env) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        joined = client.get(path, params={"limit": 10, "joined": 1})
        repeated = client.get(path, params={"limit": 10})
    assert joined.status_code == 200 and repeated.status_code == 200, server.output()[-2000:]
    assert repeated.text.count(",") == 9, repeated.text  # the seeded 10 tasks, so an N+1 of 10
    records = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    found = [r for r in records if r.get("logger") == "lantern.db" and r.get("insight") == "n_plus_one"]
    assert len(found) == 1, found
    (line,) = found
    assert line["count"] == 10 and line["callsite"] == CALLSITE and line["fingerprint"] == ORG_QUERY
    assert line["route"] == path
    access = [r for r in records if r.get("logger") == "access" and r.get("path") == path]
    assert line["request_id"] == access[-1]["request_id"]
