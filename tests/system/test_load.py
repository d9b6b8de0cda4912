"""Load through real servers: no 5xx, one access line each, exact metrics totals; a storm of healthy probes."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.system import storm as storms
from tests.system import support

CLIENTS = 50
DURATION = max(5.0, 20.0 * support.SCALE)  # seconds of traffic
MAX_PER_CLIENT = 5000  # a count bound on each client's loop as well as the time bound
ROUTE = "_system/db/<int:seq>/"


@pytest.mark.system
def test_fifty_clients_against_a_database_page(env: dict[str, str], tmp_path: Path) -> None:
    """50 concurrent clients for a bounded time: no 5xx, exactly one access line per request,
    and the multi-process metrics total equals the number of requests sent."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    args = support.gunicorn_args(workers=2, threads=4)
    with support.serve("gunicorn", env, args=args) as server:
        skip = len(server.json_lines())
        statuses: Counter[int] = Counter()
        errors: list[str] = []
        sent_ids: list[str] = []
        lock = threading.Lock()
        deadline = time.monotonic() + DURATION

        def client_loop(n: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for i in range(MAX_PER_CLIENT):
                    if time.monotonic() >= deadline:
                        return
                    rid = f"load-{n}-{i}"
                    try:
                        response = client.get(f"/_system/db/{i}/", headers={"X-Request-Id": rid})
                    except httpx.HTTPError as exc:
                        with lock:
                            errors.append(f"{type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        statuses[response.status_code] += 1
                        sent_ids.append(rid)

        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DURATION + 60)
        assert not any(t.is_alive() for t in threads), "a client did not finish in time"

        sent = len(sent_ids)
        support.wait_for_lines(server, lambda ls: sum(ln["logger"] == "access" for ln in ls[skip:]) >= sent)
        lines = server.json_lines()[skip:]
        scrape = httpx.get(server.url + "/metrics", timeout=10).text

    assert not errors, f"{len(errors)} transport errors, e.g. {errors[:3]}"
    assert set(statuses) == {200}, f"statuses: {dict(statuses)}"
    access = Counter(ln["request_id"] for ln in lines if ln["logger"] == "access")
    wrong = {rid: access[rid] for rid in sent_ids if access[rid] != 1}
    assert not wrong, f"{len(wrong)} requests without exactly one access line, e.g. {list(wrong.items())[:3]}"
    extra = set(access) - set(sent_ids)
    assert not extra, f"access lines for requests never sent: {list(extra)[:3]}"
    total = support.metric_value(scrape, "http_server_requests_total", {"route": ROUTE})
    assert total == sent, f"metrics say {total}, sent {sent}"
    print(
        f"\n[system] load: {CLIENTS} clients x {DURATION:.0f}s, {sent} requests ({sent / DURATION:.0f}/s), "
        f"statuses {dict(statuses)}, metrics total {total:.0f}"
    )


HEALTHY_STORM_PROBERS = 400
HEALTHY_STORM_SECONDS = 4.0
PROBE_P95_BOUND = 1.0  # Kubernetes' default probe timeoutSeconds: a deadline, not a benchmark
SLOW_PROBE_MS = 250.0  # LANTERN["SLOW_PROBE_MS"], the default


@pytest.mark.system
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_storm_of_healthy_probes(env: dict[str, str], kind: str, path: str) -> None:
    """400 probers (each on its own keep-alive connection, one probe a second) against a healthy app,
    gunicorn gthread 1 x 4 or uvicorn: every probe 200, p95 under the kubelet's 1 s default timeout,
    and no access line written for them (healthy probes are left out by default)."""
    args = support.gunicorn_args(workers=1, threads=4) if kind == "gunicorn" else []
    with support.serve(kind, env, args=args) as server:
        # A first verdict (imports, connections) before the storm: the storm measures the steady state.
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        storm = storms.launch(server.port, HEALTHY_STORM_PROBERS, HEALTHY_STORM_SECONDS, path)
        try:
            out, _ = storm.communicate(timeout=HEALTHY_STORM_SECONDS + 90)
        finally:
            if storm.poll() is None:
                storm.kill()
        result = json.loads(out)
        time.sleep(0.5)  # the writer thread writes asynchronously
        probe_lines = [ln for ln in server.json_lines() if ln["logger"] == "access" and ln.get("route") == path]
    # Only slow ones (the first, cold /readyz among them) may be written.
    healthy_lines = [ln for ln in probe_lines if ln["status"] == 200 and ln["duration_ms"] < SLOW_PROBE_MS]
    print(
        f"\n[system] healthy storm under {kind}, {path}: {result['count']} probes from {HEALTHY_STORM_PROBERS} "
        f"probers in {HEALTHY_STORM_SECONDS:.0f} s, statuses {result['statuses']}, p50 {result['p50'] * 1000:.0f} ms "
        f"p95 {result['p95'] * 1000:.0f} ms p99 {result['p99'] * 1000:.0f} ms max {result['max'] * 1000:.0f} ms; "
        f"access lines written: {len(probe_lines)} (none under {SLOW_PROBE_MS:.0f} ms)"
    )
    assert set(result["statuses"]) == {"200"}, result
    assert result["p95"] < PROBE_P95_BOUND, f"probe p95 {result['p95']:.3f}s"
    assert not healthy_lines, healthy_lines[:2]
