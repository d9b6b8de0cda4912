"""Real servers: the example under gunicorn with 2 workers, scraped by a real Prometheus.

Every wait here is a bounded poll for a condition (a scrape has happened, a
worker was respawned); nothing asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.helpers.servers import ROOT, Server, free_port, run_server
from tests.helpers.services import require_binary
from tests.metrics.conftest import DASHBOARD, RULES, SCRAPE_CONFIG, load_rules, parse, promtool_check_metrics
from tests.metrics.urls_boom import QUERIES_PER_REQUEST
from tests.server.metrics_settings import POOLED

pytestmark = pytest.mark.server

JOB = "django-lantern"
APP_REQUESTS = f'sum(http_server_requests_total{{job="{JOB}",route!~"/(healthz|readyz|metrics)(/.*)?"}})'
WAIT = 90.0  # upper bound on every poll below
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll ``probe`` until it returns something other than None; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            result = probe()
            if result is not None:
                return result
            last = "not yet"
        time.sleep(0.25)
    pytest.fail(f"gave up waiting for {what} (last: {last})")


def _server_env(tmp_path: Path, settings: str = "tests.server.metrics_settings") -> dict[str, str]:
    multiproc = tmp_path / "prometheus-multiproc"
    multiproc.mkdir()
    return {
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "LANTERN_LOG_FORMAT": "json",
    }


@contextlib.contextmanager
def example_under_gunicorn(
    tmp_path: Path, settings: str = "tests.server.metrics_settings"
) -> Iterator[tuple[Server, Path]]:
    env = _server_env(tmp_path, settings)
    # The example's own config (multiprocess hooks), 2 workers; --bind from run_server wins.
    with run_server("gunicorn", args=["-c", "gunicorn.conf.py", "--workers", "2"], env=env) as server:
        yield server, Path(env["PROMETHEUS_MULTIPROC_DIR"])


@contextlib.contextmanager
def prometheus_scraping(target_port: int, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 with the shipped scrape config and rules, at 1 s intervals."""
    binary = require_binary("prometheus", "apt-get install -y prometheus; .ci/run does it")
    config = (
        SCRAPE_CONFIG.read_text()
        .replace("15s", "1s")
        .replace("- rules.yml", f"- {RULES}")
        .replace("127.0.0.1:8000", f"127.0.0.1:{target_port}")
    )
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(config)
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            # Exemplars are ingested only with this flag (Prometheus 2.x).
            "--enable-feature=exemplar-storage",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool | None:
            if process.poll() is not None:
                pytest.fail(f"prometheus exited:\n{(tmp_path / 'prometheus.log').read_text()[-3000:]}")
            return True if httpx.get(url + "/-/ready", timeout=2).status_code == 200 else None

        wait_for(ready, "prometheus to start")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(prometheus + "/api/v1/query", params={"query": promql}, timeout=10)
    body = response.json()
    assert body["status"] == "success", f"{promql}: {body}"
    return list(body["data"]["result"])


def scalar(prometheus: str, promql: str) -> float | None:
    result = query(prometheus, promql)
    return float(result[0]["value"][1]) if result else None


def _send(server: Server, paths: list[str], concurrency: int = 8) -> list[int]:
    """Concurrent requests, so both sync workers are kept busy and both serve some."""
    with httpx.Client(base_url=server.url, timeout=30) as client, ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda path: client.get(path).status_code, paths))


def _as_data_query(expr: str) -> str:
    """An alert's expression with its comparison turned into ``bool``, so it returns
    a series whether or not the alert would fire (``x > 0.05`` -> ``x > bool 0.05``)."""
    return re.sub(r"\s(==|!=|>=|<=|>|<)\s+(?!bool)", r" \1 bool ", expr, count=1)


def _dashboard_queries() -> list[str]:
    data = json.loads(DASHBOARD.read_text())
    return [t["expr"].replace("$job", JOB) for panel in data["panels"] for t in panel["targets"]]


def shipped_queries() -> dict[str, str]:
    """Every rule, recorded series and dashboard query of deploy/, by a name for the failure message."""
    rules = load_rules(RULES.read_text())
    queries = {f"rule {r.get('record') or r.get('alert')}": _as_data_query(r["expr"]) for r in rules}
    queries |= {f"recorded {r['record']}": r["record"] for r in rules if "record" in r}
    queries |= {f"dashboard {i}": expr for i, expr in enumerate(_dashboard_queries())}
    if not POOLED:
        # SQLite (no DATABASE_URL): there is no connection pool to report on.
        queries = {name: q for name, q in queries.items() if "django_db_pool" not in q}
    return queries


def assert_every_query_has_data(prom: str, queries: dict[str, str]) -> None:
    def without_data() -> dict[str, str]:
        return {name: q for name, q in queries.items() if not query(prom, q)}

    # Rules evaluate every second; give them a bounded number of rounds to catch up.
    empty = without_data()
    for _ in range(120):
        if not empty:
            break
        time.sleep(0.5)
        empty = without_data()
    assert not empty, f"queries without data: {json.dumps(empty, indent=1)}"


def _app_total(scrape: str) -> float:
    return sum(
        value
        for labels, value in parse(scrape).get("http_server_requests_total", [])
        if labels["route"] not in ("/healthz", "/readyz", "/metrics")
    )


def test_prometheus_counts_exactly_and_every_query_has_data(tmp_path: Path) -> None:
    """Under gunicorn with 2 workers, Prometheus sees exactly the N requests sent, the scrape passes
    `promtool check metrics`, and every dashboard and rule query returns data."""
    ok, cached, boom, missing = 120, 10, 7, 13
    # /cached/ feeds the cache panels: /readyz's own cache operations are not counted.
    paths = ["/"] * ok + ["/cached/"] * cached + ["/boom/"] * boom + [f"/no-such-page/{i}/" for i in range(missing)]
    n = len(paths)
    with example_under_gunicorn(tmp_path) as (server, multiproc):
        statuses = _send(server, paths)
        assert statuses.count(200) == ok + cached and statuses.count(500) == boom and statuses.count(404) == missing
        for _ in range(4):  # what a kubelet would do; excluded from N by route
            httpx.get(server.url + "/readyz", timeout=10)
        # Both workers served, so the total really is a sum over processes.
        assert len(list(multiproc.glob("counter_*.db"))) >= 2, sorted(p.name for p in multiproc.iterdir())

        scrape = httpx.get(server.url + "/metrics", timeout=10).text
        result = promtool_check_metrics(scrape)
        assert result.returncode == 0, result.stdout + result.stderr
        assert _app_total(scrape) == n

        with prometheus_scraping(server.port, tmp_path) as prom:
            total = wait_for(lambda: scalar(prom, APP_REQUESTS), "the first scrape")
            # Let more scrapes happen; the app total must not move (scrapes and probes are excluded).
            wait_for(lambda: True if (scalar(prom, f"count_over_time(up{{job='{JOB}'}}[1m])") or 0) >= 5 else None,
                     "five scrapes")  # fmt: skip
            assert total == n
            assert scalar(prom, APP_REQUESTS) == n

            queries = shipped_queries()
            assert_every_query_has_data(prom, queries)
            assert scalar(prom, f'sum(http_server_exceptions_total{{job="{JOB}"}})') == boom
            assert scalar(prom, f'up{{job="{JOB}"}}') == 1
            print(f"\n[metrics] prometheus: {APP_REQUESTS} = {total:.0f} for N={n} sent; "
                  f"{len(queries)} rule/recorded/dashboard queries all returned data (pool: {POOLED})")  # fmt: skip


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def test_sigkill_of_a_worker_never_lowers_the_counter(tmp_path: Path) -> None:
    """SIGKILL a worker that has served requests: every later scrape shows at least the total
    from before, and new requests add on top of it exactly."""
    with example_under_gunicorn(tmp_path) as (server, multiproc):
        first = 60
        assert set(_send(server, ["/"] * first)) == {200}
        before = _app_total(httpx.get(server.url + "/metrics", timeout=10).text)
        assert before == first

        workers = _children(server.process.pid)
        served = {int(p.stem.rsplit("_", 1)[1]) for p in multiproc.glob("counter_*.db")}
        victim = next(iter(sorted(workers & served)))
        os.kill(victim, signal.SIGKILL)

        def respawned() -> bool | None:
            current = _children(server.process.pid)
            return True if victim not in current and len(current) == 2 else None

        wait_for(respawned, "gunicorn to replace the killed worker")
        # child_exit folded the killed worker's counters into the archive and removed its files.
        assert (multiproc / "counter_archive.db").exists()
        assert not list(multiproc.glob(f"*_{victim}.db"))

        totals = [_app_total(httpx.get(server.url + "/metrics", timeout=10).text) for _ in range(20)]
        assert min(totals) >= before, totals
        assert set(totals) == {before}

        more = 25
        assert set(_send(server, ["/"] * more)) == {200}
        after = _app_total(httpx.get(server.url + "/metrics", timeout=10).text)
        assert after == before + more
        scrape = httpx.get(server.url + "/metrics", timeout=10).text
        # Only the scrape in progress is in flight: the dead worker's gauge did not linger.
        active = parse(scrape)["http_server_active_requests"]
        assert sum(v for _, v in active) == 1
        print(f"\n[metrics] SIGKILL worker {victim}: before={before:.0f}, 20 scrapes after kill "
              f"min={min(totals):.0f}, after {more} more requests={after:.0f}")  # fmt: skip


def _sample_sum(scrape: str, name: str, **labels: str) -> float:
    return sum(v for found, v in parse(scrape).get(name, []) if all(found.get(k) == w for k, w in labels.items()))


def test_query_and_request_totals_are_exact_across_workers(tmp_path: Path) -> None:
    """Every query and request is counted once across 2 workers: the cached children
    and the per-alias query wrappers write each observation to their worker's file."""
    n = 150
    with example_under_gunicorn(tmp_path) as (server, multiproc):
        _send(server, ["/"] * 4)  # both workers up and past their first connection
        before = httpx.get(server.url + "/metrics", timeout=10).text
        statuses = _send(server, ["/queries/"] * n)
        assert statuses == [200] * n
        after = httpx.get(server.url + "/metrics", timeout=10).text
        served = {int(p.stem.rsplit("_", 1)[1]) for p in multiproc.glob("histogram_*.db")}
        assert len(served) >= 2, "both workers must have served"

    def delta(name: str, **labels: str) -> float:
        return _sample_sum(after, name, **labels) - _sample_sum(before, name, **labels)

    assert delta("http_server_requests_total", route="/queries/", status_code="200") == n
    assert delta("http_server_request_duration_seconds_count", route="/queries/") == n
    assert delta("django_db_query_duration_seconds_count", alias="default") == n * QUERIES_PER_REQUEST
    assert delta("django_db_query_errors_total", alias="default") == 0
    # The scrape itself is in flight while it is taken; nothing else is.
    assert _sample_sum(after, "http_server_active_requests") == 1
