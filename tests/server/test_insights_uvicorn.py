"""N+1 detection on a real uvicorn (ASGI): one WARNING with count 10 and the loop's line for a sync
and an async view, none for the joined version; the example's migrated database serves the rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import run_server
from tests.metrics.test_insights import CALLSITE, ORG_QUERY

pytestmark = pytest.mark.server


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/insights/names/", "/insights/async-names/"])
def test_real_uvicorn_logs_one_n_plus_one(path: str) -> None:
    env = {
        "LANTERN_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "tests.server.insights_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
    }
    with run_server("uvicorn", env=env) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        joined = client.get(path, params={"limit": 10, "joined": 1})
        repeated = client.get(path, params={"limit": 10})
    assert joined.status_code == 200 and repeated.status_code == 200, server.output()[-2000:]
    if repeated.text.count(",") < 9:
        pytest.skip("the server's database has fewer than 10 tasks: run `make run` once (seed_demo) on it")
    records = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    found = [r for r in records if r.get("logger") == "lantern.db" and r.get("insight") == "n_plus_one"]
    assert len(found) == 1, found
    (line,) = found
    assert line["count"] == 10 and line["callsite"] == CALLSITE and line["fingerprint"] == ORG_QUERY
    assert line["route"] == path
    access = [r for r in records if r.get("logger") == "access" and r.get("path") == path]
    assert line["request_id"] == access[-1]["request_id"]
