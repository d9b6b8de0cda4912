"""Dependencies failing under a real server: PostgreSQL and Redis stopped, a database that never answers."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest

from tests.system import faults, support
from tests.system.conftest import Services

READINESS_TIMEOUT = 0.5  # LANTERN["READINESS_TIMEOUT"] in these runs
MARGIN = 0.5  # scheduling slack on a loaded 2-core CI box; an upper bound only
HEALTHZ_BUDGET = 0.5  # /healthz does no I/O; half of Kubernetes' default 1 s probe timeout
PROBE_PERIOD = 10.0  # Kubernetes' default periodSeconds
OUTAGE_PROBES = 10
PROBES_AT_ONCE = 200
STORM_SLACK = 3.0  # upper bound on the server's own queueing of 200 simultaneous requests


def _timed(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def _warm(client: httpx.Client) -> None:
    """Enough concurrent traffic that every worker thread has its connections open."""
    jobs = [lambda i=i: client.get(f"/_system/db/{i}/").status_code for i in range(40)]
    jobs += [lambda: client.get("/readyz").status_code for _ in range(8)]
    assert set(support.run_concurrently(jobs, 8, timeout=60)) == {200}


def _resources(server: support.Server, services: Services, port: int) -> dict[str, int]:
    pid = server.worker_pids()[0]
    found = {"threads": support.thread_count(pid), "sockets": support.tcp_connections(pid, port)}
    if port == 5432:
        found["pg_stat_activity"] = support.pg_connections(services.admin_url)
    return found


def _outage(
    env: dict[str, str],
    services: Services,
    stopped: Callable[[], AbstractContextManager[None]],
    failing_key: str,
    port: int,
) -> None:
    env = {**env, "LANTERN_READINESS_TIMEOUT": str(READINESS_TIMEOUT)}
    with (
        support.serve("gunicorn", env, args=support.gunicorn_args(workers=1, threads=4)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        _warm(client)
        worker = server.worker_pids()[0]
        before = _resources(server, services, port)
        readyz_ms: list[float] = []
        healthz_ms: list[float] = []
        with stopped():
            for _ in range(OUTAGE_PROBES):
                response, seconds = _timed(client, "/readyz")
                readyz_ms.append(seconds * 1000)
                assert response.status_code == 503, response.text
                body = response.json()
                assert body["status"] == "not_ready" and body[failing_key] == "down", body
                assert seconds <= READINESS_TIMEOUT + MARGIN, f"/readyz took {seconds:.3f}s"
                for _ in range(3):
                    response, seconds = _timed(client, "/healthz")
                    healthz_ms.append(seconds * 1000)
                    assert response.status_code == 200
                    assert seconds <= HEALTHZ_BUDGET, f"/healthz took {seconds:.3f}s during the outage"
                # The application's own page may fail now; the server must keep answering.
                client.get("/_system/db/0/")
        # Dependency back: ready again within one probe period.
        back = time.monotonic()
        recovered = None
        while time.monotonic() - back < PROBE_PERIOD:
            if client.get("/readyz").status_code == 200:
                recovered = time.monotonic() - back
                break
            time.sleep(0.25)
        assert recovered is not None, f"/readyz not 200 within {PROBE_PERIOD}s of the restart"
        _warm(client)
        after = _resources(server, services, port)
        assert server.process.poll() is None and server.worker_pids() == [worker], "the worker was replaced"
        assert after["threads"] <= before["threads"], (before, after)
        assert after["sockets"] <= before["sockets"], (before, after)
        if "pg_stat_activity" in before:
            assert after["pg_stat_activity"] <= before["pg_stat_activity"], (before, after)
    print(
        f"\n[system] outage {failing_key}: readyz 503 max {max(readyz_ms):.0f} ms, "
        f"healthz max {max(healthz_ms):.0f} ms,"
        f" ready again {recovered * 1000:.0f} ms after restart; before {before}, after {after}"
    )


@pytest.mark.system
def test_postgres_stopped_and_restarted(env: dict[str, str], services: Services) -> None:
    """PostgreSQL down: /readyz 503 within the timeout, /healthz 200 and fast, back to 200 within a
    probe period, same worker, no extra threads or connections."""
    _outage(env, services, faults.postgres_stopped, "db", 5432)


@pytest.mark.system
def test_redis_stopped_and_restarted(env: dict[str, str], services: Services) -> None:
    """Redis down: the same guarantees as for PostgreSQL."""
    _outage(env, services, faults.redis_stopped, "cache", 6379)


@pytest.fixture
def black_hole() -> Iterator[faults.BlackHole]:
    with faults.BlackHole() as hole:
        yield hole


async def _probe_storm(url: str, count: int) -> list[tuple[int, float]]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one() -> tuple[int, float]:
            started = time.monotonic()
            response = await client.get("/readyz")
            return response.status_code, time.monotonic() - started

        return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), timeout=180)


@pytest.mark.system
@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_database_that_never_answers(
    kind: str, env: dict[str, str], services: Services, black_hole: faults.BlackHole
) -> None:
    """A database that accepts and never replies: /readyz answers 503 within its budget, and 200
    concurrent probes keep at most one check (one connection) in flight."""
    env = {
        **env,
        "LANTERN_READINESS_TIMEOUT": str(READINESS_TIMEOUT),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{black_hole.port}/never",
    }
    args = support.gunicorn_args(workers=1, threads=4) if kind == "gunicorn" else []
    with support.serve(kind, env, args=args) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        single: list[float] = []
        for _ in range(3):
            response, seconds = _timed(client, "/readyz")
            single.append(seconds)
            assert response.status_code == 503
            body = response.json()
            assert body["db"] == "down" and body["checks"]["db:default"]["error"] == "timeout", body
            assert "127.0.0.1" not in response.text and "never" not in response.text
            assert seconds <= READINESS_TIMEOUT + MARGIN, f"/readyz took {seconds:.3f}s"
        pid = server.worker_pids()[0]
        threads_before = support.thread_count(pid)
        started = time.monotonic()
        results = asyncio.run(_probe_storm(server.url, PROBES_AT_ONCE))
        storm = time.monotonic() - started
        threads_first = support.thread_count(pid)
        if kind == "uvicorn":
            # A second storm: a leak would double; the server's own pools stay within their caps.
            # (gunicorn gthread's pool is fixed-size; one storm there already takes 25 s.)
            results += asyncio.run(_probe_storm(server.url, PROBES_AT_ONCE))
        threads_after = support.thread_count(pid)
        response, seconds = _timed(client, "/healthz")
        assert response.status_code == 200 and seconds <= HEALTHZ_BUDGET

    assert {status for status, _ in results} == {503}
    slowest = max(seconds for _, seconds in results)
    if kind == "uvicorn":
        # Async probes wait without holding a thread: each is answered within its own budget.
        # The rest is queueing: Django's ASGI handler runs each request's sync signal receivers on one
        # shared thread, and 200 requests arrive at once on a 2-core box.
        assert slowest <= READINESS_TIMEOUT + STORM_SLACK, f"slowest of {PROBES_AT_ONCE} probes: {slowest:.3f}s"
    else:
        # 4 threads serve 200 probes in turn; each waits at most the timeout.
        assert slowest <= PROBES_AT_ONCE / 4 * (READINESS_TIMEOUT + 0.1) + MARGIN
    assert black_hole.max_open <= 1, f"{black_hole.max_open} connections to the hung database at once"
    # The check thread existed before the storms. What may still appear are the server's own lazily
    # filled pools, each capped: asyncio's default executor (min(32, cpus + 4) threads) and asgiref's
    # one thread-sensitive thread. A thread per probe or per check run would add hundreds.
    pool_cap = min(32, (os.cpu_count() or 1) + 4) + 1
    assert threads_after - threads_before <= pool_cap, (threads_before, threads_first, threads_after)
    print(
        f"\n[system] black hole under {kind}: single probe max {max(single) * 1000:.0f} ms; {len(results)} probes, "
        f"first in {storm:.1f}s, slowest {slowest * 1000:.0f} ms, connections accepted {black_hole.accepted}, "
        f"max open {black_hole.max_open}, threads {threads_before} -> {threads_first} -> {threads_after}"
    )
