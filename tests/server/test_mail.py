"""Real gunicorn (gthread, 1 worker, 4 threads) with SMTP black-holed and readiness failing:
``/healthz`` keeps answering promptly through a stream of failing probes and of 500s, and no
mail is attempted for a probe. Every wait is bounded."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.helpers.fault_proxy import FaultProxy
from tests.helpers.servers import ROOT, Server, free_port, run_server

pytestmark = pytest.mark.server

ROUNDS = 40
PROMPT = 1.0  # seconds: kubelet's default probe timeout


@pytest.fixture
def smtp() -> Iterator[FaultProxy]:
    """A mail server that accepts connections and never answers (nothing listens behind the proxy)."""
    with FaultProxy(free_port()) as proxy:
        proxy.black_hole()
        yield proxy


@pytest.fixture
def server(smtp: FaultProxy, tmp_path: Path) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.server.mail_settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        DATABASE_URL="",
        REDIS_URL="",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        LANTERN_TEST_SMTP_PORT=str(smtp.port),
        LANTERN_LOG_FORMAT="json",
        NO_PROXY="127.0.0.1,localhost",
    )
    args = ["--worker-class", "gthread", "--workers", "1", "--threads", "4", "--timeout", "60"]
    with run_server("gunicorn", args=args, env=env) as running:
        yield running


def _healthz_seconds(client: httpx.Client, url: str) -> float:
    started = time.monotonic()
    response = client.get(url + "/healthz", timeout=5)
    assert response.status_code == 200
    return time.monotonic() - started


def _storm(server: Server, path: str, expected: int) -> list[float]:
    """ROUNDS requests to ``path`` from three threads while /healthz is timed; the /healthz times."""
    with httpx.Client() as client, ThreadPoolExecutor(3) as pool:

        def hit(_: int) -> int:
            return client.get(server.url + path, timeout=15).status_code

        futures = [pool.submit(hit, n) for n in range(ROUNDS)]
        times = []
        while not all(f.done() for f in futures):
            times.append(_healthz_seconds(client, server.url))
            time.sleep(0.05)
        times.append(_healthz_seconds(client, server.url))
        assert [f.result() for f in futures] == [expected] * ROUNDS
    return times


def test_failing_probes_send_no_mail_and_healthz_keeps_answering(server: Server, smtp: FaultProxy) -> None:
    """Failing /readyz and /readyz/<check> probes: no connection to the mail server, /healthz under 1 s."""
    times = _storm(server, "/readyz", 503) + _storm(server, "/readyz/custom:failing_check", 503)
    assert max(times) < PROMPT, times
    assert smtp.accepted == 0


def test_a_stream_of_500s_mails_once_and_healthz_keeps_answering(server: Server, smtp: FaultProxy) -> None:
    """A stream of identical 500s: one mail attempted (stuck in the black hole), the rest rate-limited;
    /healthz stays under 1 s."""
    times = _storm(server, "/errors/boom/", 500)
    assert max(times) < PROMPT, times
    deadline = time.monotonic() + 5
    while smtp.accepted == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert smtp.accepted == 1
    metrics = httpx.get(server.url + "/metrics", timeout=5).text
    assert f'lantern_mail_dropped_total{{reason="rate_limited"}} {float(ROUNDS - 1)}' in metrics
