"""Dependencies failing under a real server, through loopback fault proxies: refused, black-holed, restored.

PostgreSQL and Redis are never stopped: each server under test reaches them
through a ``FaultProxy`` (see tests/system/faults.py), which this module
switches between forwarding, refusing and black-holing.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time

import httpx
import pytest

from tests.system import faults, support
from tests.system import storm as storms
from tests.system.conftest import Services

READINESS_TIMEOUT = 0.5  # LANTERN["READINESS_TIMEOUT"] in these runs
CACHE_SECONDS = 1.0  # LANTERN["READINESS_CACHE_SECONDS"], the default
MARGIN = 0.5  # scheduling slack on a loaded 2-core CI box; an upper bound only
HEALTHZ_BUDGET = 0.5  # /healthz does no I/O; half of Kubernetes' default 1 s probe timeout
RECOVERY_BOUND = 10.0  # the bound: check timeout plus one probe period, at most 10 s
OUTAGE_SECONDS = 3.0
STORM_PROBERS = 400
STORM_SECONDS = 4.0
MAX_UVICORN_THREADS = 64


def _timed(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def _warm(client: httpx.Client) -> None:
    """Concurrent traffic, so that every worker thread holds its persistent connections (CONN_MAX_AGE=60)."""
    # A cold first attempt (imports, first connections) may miss its 0.5 s on a loaded box: ready first.
    assert faults.wait_until(lambda: client.get("/readyz").status_code == 200, 10), "never ready"
    jobs = [lambda i=i: client.get(f"/_system/db/{i}/").status_code for i in range(40)]
    assert set(support.run_concurrently(jobs, 8, timeout=60)) == {200}


def _probe_outage(client: httpx.Client, failing_key: str) -> list[float]:
    """Probe for OUTAGE_SECONDS: every answer 503 with ``failing_key`` down, within its budget; /healthz fast."""
    # A verdict from before the fault may be served for up to CACHE_SECONDS, never longer.
    noticed = faults.wait_until(
        lambda: client.get("/readyz").status_code == 503, CACHE_SECONDS + READINESS_TIMEOUT + MARGIN, 0.05
    )
    assert noticed is not None, "/readyz still 200 after the verdict's lifetime"
    seconds_taken: list[float] = []
    end = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < end:
        response, seconds = _timed(client, "/readyz")
        seconds_taken.append(seconds)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "not_ready" and body[failing_key] == "down", body
        assert "127.0.0.1" not in response.text
        assert seconds <= READINESS_TIMEOUT + MARGIN, f"/readyz took {seconds:.3f}s"
        response, seconds = _timed(client, "/healthz")
        assert response.status_code == 200 and seconds <= HEALTHZ_BUDGET, f"/healthz took {seconds:.3f}s"
        time.sleep(0.2)
    return seconds_taken


def _recovered(client: httpx.Client) -> float | None:
    return faults.wait_until(lambda: client.get("/readyz").status_code == 200, RECOVERY_BOUND)


def _server_args(kind: str) -> list[str]:
    return support.gunicorn_args(workers=1, threads=4) if kind == "gunicorn" else []


@pytest.mark.system
@pytest.mark.parametrize("dependency", ["postgres", "redis"])
def test_refused_then_restored(env: dict[str, str], services: Services, dependency: str) -> None:
    """Connections refused (the server is down): /readyz 503 within the timeout, /healthz 200 and fast,
    ready again after the restore, same worker, no extra threads or connections."""
    failing_key = "db" if dependency == "postgres" else "cache"
    with faults.proxied({**env, "LANTERN_READINESS_TIMEOUT": str(READINESS_TIMEOUT)}, services) as net:
        proxy = net.proxy(dependency)
        with (
            support.serve("gunicorn", net.env, args=_server_args("gunicorn")) as server,
            httpx.Client(base_url=server.url, timeout=10) as client,
        ):
            _warm(client)
            worker = server.worker_pids()[0]
            threads_before = support.thread_count(worker)
            open_before = proxy.open_now
            proxy.refuse()
            probes = _probe_outage(client, failing_key)
            proxy.forward()
            recovered = _recovered(client)
            assert recovered is not None, f"/readyz not 200 within {RECOVERY_BOUND}s of the restore"
            _warm(client)
            assert server.worker_pids() == [worker], "the worker was replaced"
            threads_after = support.thread_count(worker)
            open_after = proxy.open_now
            assert threads_after <= threads_before, (threads_before, threads_after)
            assert open_after <= open_before, (open_before, open_after)
    print(
        f"\n[system] {dependency} refused: {len(probes)} probes, 503 in at most {max(probes) * 1000:.0f} ms; "
        f"200 again {recovered * 1000:.0f} ms after the restore; threads {threads_before} -> {threads_after}; "
        f"connections through the proxy {open_before} -> {open_after}"
    )


@pytest.mark.system
@pytest.mark.parametrize(
    ("kind", "dependency", "redis_py"),
    [
        ("gunicorn", "postgres", "installed"),
        ("uvicorn", "postgres", "installed"),
        ("gunicorn", "redis", "installed"),
        ("gunicorn", "redis", "5"),
    ],
)
def test_ready_again_after_a_black_hole(
    env: dict[str, str], services: Services, kind: str, dependency: str, redis_py: str
) -> None:
    """Black hole (open connections silent, new ones accepted and never answered), then restored with the
    silenced connections still silent: /readyz 503 within its budget throughout, 200 again within the
    bound. The Redis cache runs with redis-py's own defaults (no socket timeouts in OPTIONS)."""
    failing_key = "db" if dependency == "postgres" else "cache"
    server_env = {**env, "LANTERN_READINESS_TIMEOUT": str(READINESS_TIMEOUT), "LANTERN_SYSTEM_REDIS_NO_TIMEOUTS": "1"}
    if redis_py == "5":
        path = faults.redis_py5_path()
        if path is None:
            pytest.skip("redis-py 5 could not be installed next to the suite's environment")
        server_env["PYTHONPATH"] = f"{path}{os.pathsep}{env['PYTHONPATH']}"
    with faults.proxied(server_env, services) as net:
        proxy = net.proxy(dependency)
        with (
            support.serve(kind, net.env, args=_server_args(kind)) as server,
            httpx.Client(base_url=server.url, timeout=10) as client,
        ):
            _warm(client)
            proxy.black_hole()
            probes = _probe_outage(client, failing_key)
            proxy.forward()  # the silenced connections stay silent: their flows are lost
            recovered = _recovered(client)
            assert recovered is not None, f"/readyz not 200 within {RECOVERY_BOUND}s of the restore"
            body = client.get("/readyz").json()
            assert body["status"] == "ready", body
    print(
        f"\n[system] {dependency} black hole under {kind} (redis-py {redis_py}): {len(probes)} probes, 503 in at most "
        f"{max(probes) * 1000:.0f} ms; 200 again {recovered * 1000:.0f} ms after the restore; "
        f"connections through the proxy: {proxy.accepted} accepted, {proxy.open_now} open at the end"
    )


@pytest.mark.system
def test_requests_recover_after_a_black_hole(env: dict[str, str], services: Services) -> None:
    """A black hole that ends with the silenced connections reset (the server forgot them): pages that use
    the database work again at once (CONN_HEALTH_CHECKS replaces a broken persistent connection)."""
    with (
        faults.proxied({**env, "LANTERN_READINESS_TIMEOUT": str(READINESS_TIMEOUT)}, services) as net,
        support.serve("gunicorn", net.env, args=_server_args("gunicorn")) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        _warm(client)  # four request threads, each with a persistent connection
        net.postgres.black_hole()
        _probe_outage(client, "db")
        net.postgres.forward(reset_silenced=True)
        recovered = _recovered(client)
        assert recovered is not None
        pages = support.run_concurrently(
            [lambda i=i: client.get(f"/_system/db/{i}/").status_code for i in range(40)], 8, timeout=60
        )
    assert set(pages) == {200}, pages
    print(f"\n[system] requests after a black hole: ready again in {recovered * 1000:.0f} ms; 40 db pages all 200")


@pytest.mark.system
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_probe_storm_with_the_database_black_holed(env: dict[str, str], services: Services, kind: str) -> None:
    """400 concurrent probers (one probe a second each) while PostgreSQL is black-holed: every probe 503,
    a page that does not use the database keeps p50 < 100 ms and p95 < 1 s, uvicorn stays under 64 threads,
    and at most one check connection is opened at a time."""
    with (
        faults.proxied({**env, "LANTERN_READINESS_TIMEOUT": str(READINESS_TIMEOUT)}, services) as net,
        support.serve(kind, net.env, args=_server_args(kind)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert faults.wait_until(lambda: client.get("/readyz").status_code == 200, 10), "never ready"
        net.postgres.black_hole()
        accepted_before = net.postgres.accepted
        assert faults.wait_until(lambda: client.get("/readyz").status_code == 503, CACHE_SECONDS + 2, 0.05)
        pid = server.worker_pids()[0]
        threads: list[int] = []
        pages: list[float] = []
        storm = storms.launch(server.port, STORM_PROBERS, STORM_SECONDS)
        stop = threading.Event()

        def count_threads() -> None:
            while not stop.is_set():
                threads.append(support.thread_count(pid))
                time.sleep(0.02)

        counter = threading.Thread(target=count_threads, daemon=True)
        counter.start()
        try:
            seq = 0
            end = time.monotonic() + STORM_SECONDS + 1
            while storm.poll() is None and time.monotonic() < end:
                response, seconds = _timed(client, f"/_system/log/{seq}/")
                assert response.status_code == 200
                pages.append(seconds)
                seq += 1
                time.sleep(0.02)
            out, _ = storm.communicate(timeout=STORM_SECONDS + 90)
        finally:
            stop.set()
            counter.join(timeout=5)
            if storm.poll() is None:
                storm.kill()
        result = json.loads(out)
        connections_opened = net.postgres.accepted - accepted_before
    p50 = statistics.median(pages)
    p95 = statistics.quantiles(pages, n=20)[-1]
    print(
        f"\n[system] storm under {kind}: {result['count']} probes from {STORM_PROBERS} probers "
        f"in {STORM_SECONDS:.0f} s, "
        f"statuses {result['statuses']}, probe p50 {result['p50'] * 1000:.0f} ms p99 {result['p99'] * 1000:.0f} ms max "
        f"{result['max'] * 1000:.0f} ms; page ({len(pages)} samples) p50 {p50 * 1000:.0f} ms p95 {p95 * 1000:.0f} ms "
        f"max {max(pages) * 1000:.0f} ms; threads max {max(threads)}; check connections opened {connections_opened}"
    )
    assert set(result["statuses"]) == {"503"}, result
    assert p50 < 0.1 and p95 < 1.0, f"page p50 {p50:.3f}s, p95 {p95:.3f}s"
    if kind == "uvicorn":
        assert max(threads) < MAX_UVICORN_THREADS, f"uvicorn reached {max(threads)} threads during the storm"
    # One attempt at a time, each opening at most one connection, each lasting at least libpq's 2 s connect bound.
    assert connections_opened <= STORM_SECONDS / 2 + 3, connections_opened
