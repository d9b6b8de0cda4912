"""Real gunicorn (gthread, 1 worker, 4 threads): 1,000 identical 500s write one stack per interval.

Every request keeps its access line, the metrics count every error, and the
full error lines' ``folded`` counts add up to every error sent (the last
request, sent after the interval, reports the copies since the line before).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import ROOT, Server, run_server
from tests.metrics.conftest import parse

pytestmark = pytest.mark.server

ERRORS = 1000
INTERVAL = 10.0  # seconds; long enough that the 1,000 requests need few full lines
ROUTE = "/errors/fail/"


@pytest.fixture(params=["json", "text"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.server.repeated_errors_settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        DATABASE_URL="",
        REDIS_URL="",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        LANTERN_LOG_FORMAT=request.param,
        LANTERN_TEST_REPEAT_INTERVAL=str(INTERVAL),
        NO_PROXY="127.0.0.1,localhost",
    )
    args = ["--worker-class", "gthread", "--workers", "1", "--threads", "4", "--timeout", "60"]
    with run_server("gunicorn", args=args, env=env) as running:
        running.log_format = request.param  # type: ignore[attr-defined]
        yield running


def _records(output: str, log_format: str) -> list[tuple[str, dict[str, str | int], str]]:
    """(logger, fields, the record's whole text with its stack lines) for every record."""
    found: list[tuple[str, dict[str, str | int], str]] = []
    for line in output.splitlines():
        if log_format == "json":
            if line.startswith("{"):
                parsed = json.loads(line)
                found.append((parsed["logger"], parsed, line + "\n"))
            continue
        if line.startswith("    ") and found:  # a stack line of the record above
            logger, fields, text = found[-1]
            found[-1] = (logger, fields, text + line + "\n")
            continue
        parts = line.split(" ")
        if len(parts) > 3 and parts[0][:4].isdigit():
            fields = dict(part.split("=", 1) for part in parts[3:] if "=" in part)
            found.append((parts[2], fields, line + "\n"))  # type: ignore[arg-type]
    return found


def test_a_thousand_identical_errors(server: Server) -> None:
    """1,000 identical 500s then one more after the interval: error lines under 20 kB, the folded
    counts add up, one access line per request, ``http_server_exceptions_total`` = every error."""
    with httpx.Client() as client, ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        statuses = list(pool.map(lambda _: client.get(f"{server.url}{ROUTE}", timeout=30).status_code, range(ERRORS)))
        elapsed = time.monotonic() - started
        time.sleep(INTERVAL + 0.5)  # the interval passes: the next error is written in full
        statuses.append(client.get(f"{server.url}{ROUTE}", timeout=30).status_code)
        scrape = parse(client.get(server.url + "/metrics", timeout=10).text)
    assert statuses == [500] * (ERRORS + 1)
    records = _records(server.output(), server.log_format)  # type: ignore[attr-defined]
    errors = [(fields, text) for logger, fields, text in records if logger == "django.request"]
    access = [fields for logger, fields, _ in records if logger == "access" and str(fields.get("status")) == "500"]
    full = len(errors)
    folded = [int(fields.get("folded", 0)) for fields, _ in errors]
    error_bytes = sum(len(text.encode()) for _, text in errors)
    print(
        f"\n[repeated errors, {server.log_format}] {ERRORS} errors in {elapsed:.1f}s + 1 after {INTERVAL:.0f}s: "  # type: ignore[attr-defined]
        f"{full} full lines, {sum(folded)} folded (last line folded={folded[-1]}), {error_bytes} bytes of error lines"
    )
    assert full + sum(folded) == ERRORS + 1
    assert folded[-1] > 0  # the line after the interval says what it stands for
    assert full <= 2 + elapsed / INTERVAL
    assert error_bytes < 20_000
    assert len(access) == ERRORS + 1 and len({fields["request_id"] for fields in access}) == ERRORS + 1
    exceptions = sum(
        value for labels, value in scrape["http_server_exceptions_total"] if labels["exception_type"] == "RuntimeError"
    )
    requests = sum(
        value
        for labels, value in scrape["http_server_requests_total"]
        if labels.get("route") == ROUTE and labels.get("status_code") == "500"
    )
    assert exceptions == ERRORS + 1 and requests == ERRORS + 1
    assert scrape["lantern_log_records_folded_total"][0][1] == sum(folded)
