"""The operators' kit in deploy/: promtool accepts it, and the dashboard uses only known series."""

from __future__ import annotations

import json
import re
import subprocess

from tests.metrics.conftest import DASHBOARD, RULES, SCRAPE_CONFIG, load_rules, promtool

FAMILIES = {
    "http_server_requests_total",
    "http_server_request_duration_seconds_bucket",
    "http_server_request_duration_seconds_count",
    "http_server_request_duration_seconds_sum",
    "http_server_request_db_queries_bucket",
    "http_server_request_db_duration_seconds_sum",
    "http_server_active_requests",
    "http_server_exceptions_total",
    "django_db_query_duration_seconds_bucket",
    "django_db_query_duration_seconds_count",
    "django_db_new_connections_total",
    "django_db_new_connection_errors_total",
    "django_db_pool_connections",
    "django_db_pool_max_connections",
    "django_db_pool_pending_requests",
    "django_db_pool_wait_seconds_total",
    "django_db_pool_requests_total",
    "django_db_pool_request_errors_total",
    "django_cache_operations_total",
    "lantern_build_info",
    "lantern_process_start_time_seconds",
    "lantern_readiness_up",
    "lantern_readiness_check_up",
    "lantern_readiness_check_duration_seconds",
    "lantern_label_overflow_total",
    "up",
}
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "histogram_quantile", "min", "max", "or", "and", "time", "bool", "on",
    "le", "job", "instance", "route", "status_code", "alias", "result", "family", "exception_type", "state",
}  # fmt: skip


def rules() -> list[dict[str, str]]:
    return load_rules(RULES.read_text())


def dashboard_exprs() -> list[str]:
    data = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in data["panels"] for t in panel["targets"]]


def _series(expr: str) -> set[str]:
    """Metric names in a PromQL expression (identifiers outside strings, minus PromQL words)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {n for n in names if n not in PROMQL_WORDS and not n.startswith("$")}


def test_promtool_check_rules() -> None:
    """`promtool check rules` accepts deploy/prometheus/rules.yml."""
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_config() -> None:
    """`promtool check config` accepts the scrape config (which loads the rules)."""
    result = subprocess.run(
        [promtool(), "check", "config", str(SCRAPE_CONFIG)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_cover_the_required_alerts() -> None:
    """Error rate, p95 latency, readiness failing and scrape down each have an alert."""
    alerts = {r["alert"]: r["expr"] for r in rules() if "alert" in r}
    assert {"DjangoHighErrorRate", "DjangoHighLatencyP95", "DjangoReadinessFailing", "DjangoScrapeDown"} <= set(alerts)
    # Issue 13: connection failures and pool exhaustion page someone.
    assert {"DjangoDbConnectionErrors", "DjangoDbPoolExhausted", "DjangoDbPoolSaturated"} <= set(alerts)


def test_dashboard_shows_the_new_database_series_and_exemplars() -> None:
    """Connections, pool use and wait, and a latency panel that asks Grafana for exemplars."""
    data = json.loads(DASHBOARD.read_text())
    used = set().union(*(_series(e) for e in dashboard_exprs()))
    assert {"job_alias:django_db_new_connection_errors:rate5m", "job_alias:django_db_pool_wait_seconds:mean5m"} <= used
    exemplar_targets = [t for p in data["panels"] for t in p["targets"] if t.get("exemplar")]
    assert exemplar_targets and all(
        "http_server_request_duration_seconds_bucket" in t["expr"] for t in exemplar_targets
    )


def test_rules_and_dashboard_use_only_known_series() -> None:
    """Every series in the rules and the dashboard is a lantern family, a recorded rule, or `up`."""
    recorded = {r["record"] for r in rules() if "record" in r}
    known = FAMILIES | recorded
    for expr in [r["expr"] for r in rules()] + dashboard_exprs():
        unknown = _series(expr) - known
        assert not unknown, f"{expr!r} uses {unknown}"
    # The dashboard is built on the recorded series, not on raw ad-hoc queries.
    used = set().union(*(_series(e) for e in dashboard_exprs()))
    assert recorded <= used


def test_dashboard_shows_what_requests_cost_by_route() -> None:
    """Issue 22: queries per request p95 by route, and the DB share of latency, from the recorded rules."""
    data = json.loads(DASHBOARD.read_text())
    titles = {p["title"]: [t["expr"] for t in p["targets"]] for p in data["panels"]}
    assert titles["Queries per request p95 by route"] == ['job_route:http_server_request_db_queries:p95_5m{job="$job"}']
    assert titles["DB share of latency by route"] == ['job_route:http_server_request_db_time:ratio_rate5m{job="$job"}']
    recorded = {r["record"]: r["expr"] for r in rules() if "record" in r}
    assert "http_server_request_db_queries_bucket" in recorded["job_route:http_server_request_db_queries:p95_5m"]
    share = recorded["job_route:http_server_request_db_time:ratio_rate5m"]
    assert (
        "http_server_request_db_duration_seconds_sum" in share and "http_server_request_duration_seconds_sum" in share
    )
