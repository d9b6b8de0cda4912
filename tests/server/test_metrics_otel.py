"""METRICS_NAMING="both" on a real server: OpenTelemetry's HTTP dashboard queries and ours,
answered by a real Prometheus scraping the example under gunicorn (2 workers).

Every wait is a bounded poll (``wait_for``); nothing asserts how long anything took.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.metrics.conftest import parse, promtool_check_metrics
from tests.server.test_metrics import (
    JOB,
    assert_every_query_has_data,
    example_under_gunicorn,
    prometheus_scraping,
    query,
    scalar,
    shipped_queries,
    wait_for,
)
from tests.server.test_metrics import _send as send

pytestmark = pytest.mark.server

DURATION = "http_server_request_duration_seconds"
# What an OpenTelemetry HTTP server dashboard asks, unchanged.
OTEL_P95_BY_ROUTE = f"histogram_quantile(0.95, sum by (le, http_route) (rate({DURATION}_bucket[1m])))"
OTEL_RATE_BY_STATUS = f"sum by (http_response_status_code) (rate({DURATION}_count[1m]))"
OTEL_ERROR_RATE = f'sum(rate({DURATION}_count{{error_type!=""}}[1m]))'


def _http_series(scrape: str) -> int:
    """Series of the two request families (the histogram's every bucket included)."""
    found = parse(scrape)
    return sum(len(found.get(name, [])) for name in found if name.startswith("http_server_request"))


def test_otel_dashboard_queries_have_data_and_random_paths_add_no_series(tmp_path: Path) -> None:
    """Prometheus answers the OpenTelemetry queries (p95 by ``http_route``, rate by status code,
    error rate) and every shipped rule and panel; 300 random paths add no series."""
    ok, cached, boom, missing, random_paths = 60, 10, 5, 5, 300
    paths = ["/"] * ok + ["/cached/"] * cached + ["/boom/"] * boom + [f"/no-such-page/{i}/" for i in range(missing)]
    with example_under_gunicorn(tmp_path, "tests.server.metrics_otel_settings") as (server, _):
        statuses = send(server, paths)
        assert statuses.count(500) == boom and statuses.count(404) == missing
        for _ in range(4):  # the readiness panels' data
            httpx.get(server.url + "/readyz", timeout=10)
        # A scrape counts itself once it is done: the second one shows the first's series.
        httpx.get(server.url + "/metrics", timeout=10)
        before = httpx.get(server.url + "/metrics", timeout=10).text
        result = promtool_check_metrics(before)
        assert result.returncode == 0, result.stdout + result.stderr

        assert set(send(server, [f"/{uuid.uuid4().hex}/{i}/" for i in range(random_paths)])) == {404}
        after = httpx.get(server.url + "/metrics", timeout=10).text
        assert _http_series(after) == _http_series(before)
        unmatched = [v for labels, v in parse(after)[DURATION + "_count"] if labels["route"] == "-"]
        assert unmatched == [missing + random_paths]

        with prometheus_scraping(server.port, tmp_path) as prom:
            wait_for(lambda: scalar(prom, f'sum({DURATION}_count{{job="{JOB}",http_route="/"}})'), "the first scrape")
            assert scalar(prom, f'sum({DURATION}_count{{job="{JOB}",http_route="/"}})') == ok
            assert scalar(prom, f'sum({DURATION}_count{{job="{JOB}",error_type="500"}})') == boom

            def otel_answers() -> dict[str, list[dict[str, object]]] | None:
                found = {q: query(prom, q) for q in (OTEL_P95_BY_ROUTE, OTEL_RATE_BY_STATUS, OTEL_ERROR_RATE)}
                return found if all(found.values()) else None

            answers = wait_for(otel_answers, "the OpenTelemetry queries to return data")
            routes = {r["metric"].get("http_route", "") for r in answers[OTEL_P95_BY_ROUTE]}
            assert {"/", "/boom/", "/cached/", ""} <= routes, routes
            codes = {r["metric"]["http_response_status_code"] for r in answers[OTEL_RATE_BY_STATUS]}
            assert {"200", "404", "500"} <= codes, codes
            # Bounded in Prometheus too: one http_route per URL pattern, one for everything unmatched.
            route_count = scalar(prom, f'count(count by (http_route) ({DURATION}_count{{job="{JOB}"}}))')
            assert route_count is not None and route_count <= len(routes) + 1

            # Ours keep working in "both": every shipped rule and dashboard query has data.
            queries = shipped_queries()
            assert_every_query_has_data(prom, queries)
            print(f"\n[metrics-otel] both: {_http_series(after)} request series before and after "
                  f"{random_paths} random paths; {len(routes)} http_route values in Prometheus; "
                  f"3 OpenTelemetry queries and {len(queries)} shipped queries returned data")  # fmt: skip


def test_otel_naming_keeps_every_shipped_query_answering_but_drops_route(tmp_path: Path) -> None:
    """ "otel": what docs/metrics.md says it drops. Every shipped rule and panel still has data
    (the duration histogram keeps its name without a namespace), but the p95 by route has no
    ``route`` left; the OpenTelemetry query groups by ``http_route`` instead."""
    paths = ["/"] * 30 + ["/cached/"] * 10 + ["/boom/"] * 3 + ["/no-such-page/"] * 3
    with example_under_gunicorn(tmp_path, "tests.server.metrics_otelonly_settings") as (server, _):
        send(server, paths)
        for _ in range(4):
            httpx.get(server.url + "/readyz", timeout=10)
        scrape = httpx.get(server.url + "/metrics", timeout=10).text
        assert {tuple(sorted(labels)) for labels, _ in parse(scrape)[DURATION + "_count"]} == {
            ("error_type", "http_request_method", "http_response_status_code", "http_route")
        }
        with prometheus_scraping(server.port, tmp_path) as prom:
            queries = shipped_queries()
            # The DB share of latency divides by the duration's sum by ``route``, which
            # "otel" no longer has: docs/metrics.md says so; every other query answers.
            needs_route = {name for name, q in queries.items() if "request_db_time" in name + q}
            assert needs_route, "the DB-share rule, its recorded series and its panel"
            assert_every_query_has_data(prom, {n: q for n, q in queries.items() if n not in needs_route})
            for name in needs_route:
                assert not query(prom, queries[name]), name
            by_route = query(prom, f'job_route:{DURATION}:p95_5m{{job="{JOB}"}}')
            assert [r["metric"].get("route") for r in by_route] == [None]
            routes = wait_for(lambda: query(prom, OTEL_P95_BY_ROUTE) or None, "the OpenTelemetry p95 by route")
            assert {"/", "/boom/", "/cached/"} <= {r["metric"].get("http_route") for r in routes}
