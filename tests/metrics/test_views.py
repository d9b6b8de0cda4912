"""``/metrics``: protection, formats, and a JSON view consistent with the text format."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families

from django_lantern.metrics._views import histogram_quantile
from tests.metrics.conftest import parse, promtool_check_metrics

PUBLIC = "203.0.113.7"  # TEST-NET-3: a public address no default network contains
TOKEN = "s3cret-token-for-tests"
METRIC_MARKERS = ("http_server", "# HELP", "# TYPE", "lantern_", "requests_total")


def _traffic(client: Client) -> None:
    client.get("/")
    client.get("/no-such-page/")
    client.get("/healthz")
    client.get("/readyz")


def _assert_no_metric_data(body: bytes) -> None:
    text = body.decode()
    assert not any(marker in text for marker in METRIC_MARKERS), text


@pytest.mark.django_db
def test_public_address_without_token_is_refused(client: Client) -> None:
    """A request from a public address gets 403 and a body with no metric data."""
    _traffic(client)
    for path in ("/metrics", "/metrics/", "/metrics?format=json"):
        response = client.get(path, REMOTE_ADDR=PUBLIC)
        assert response.status_code == 403
        _assert_no_metric_data(response.content)
        assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_public_address_with_token_is_served(client: Client) -> None:
    """The same public address with the configured bearer token gets the metrics."""
    with override_settings(LANTERN={"METRICS_BEARER_TOKEN": TOKEN}):
        _traffic(client)
        refused = client.get("/metrics", REMOTE_ADDR=PUBLIC)
        wrong = client.get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION="Bearer not-the-token")
        basic = client.get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION=f"Basic {TOKEN}")
        served = client.get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    for response in (refused, wrong, basic):
        assert response.status_code == 403
        _assert_no_metric_data(response.content)
    assert served.status_code == 200
    assert "http_server_requests_total" in served.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("192.168.0.9", True),
        ("::ffff:10.0.0.1", True),  # IPv4-mapped: judged as the IPv4 address
        ("::ffff:8.8.8.8", False),
        (PUBLIC, False),
        ("2001:db8::1", False),
        ("not-an-ip", False),
        ("", False),
    ],
)
def test_default_networks(client: Client, remote: str, allowed: bool) -> None:
    """Loopback and private ranges are allowed by default; anything else, or garbage, is not."""
    response = client.get("/metrics", REMOTE_ADDR=remote)
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.django_db
def test_forwarded_for_is_not_trusted(client: Client) -> None:
    """X-Forwarded-For cannot make a public peer look private."""
    response = client.get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403


@pytest.mark.django_db
def test_configured_networks_replace_the_defaults(client: Client) -> None:
    """METRICS_ALLOWED_NETWORKS replaces the default list; an invalid entry allows no one."""
    with override_settings(LANTERN={"METRICS_ALLOWED_NETWORKS": ["203.0.113.0/24", "not-a-network"]}):
        assert client.get("/metrics", REMOTE_ADDR=PUBLIC).status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_methods(client: Client) -> None:
    """GET and HEAD are served (HEAD without a body); anything else is 405."""
    assert client.head("/metrics").status_code == 200
    assert client.head("/metrics").content == b""
    assert client.post("/metrics").status_code == 405


@pytest.mark.django_db
def test_text_format_by_default_passes_promtool(client: Client) -> None:
    """The default scrape is Prometheus text and `promtool check metrics` accepts it."""
    _traffic(client)
    response = client.get("/metrics")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    result = promtool_check_metrics(text)
    assert result.returncode == 0, result.stdout + result.stderr
    samples = parse(text)
    assert "http_server_requests_total" in samples
    # The counter is named once with _total, never ..._total_total.
    assert not any("_total_total" in name for name in samples)


@pytest.mark.django_db
def test_openmetrics_when_asked(client: Client) -> None:
    """A scraper asking for OpenMetrics gets it, and it parses as OpenMetrics."""
    _traffic(client)
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    text = response.content.decode()
    assert text.endswith("# EOF\n")
    names = {f.name for f in openmetrics_families(text)}
    assert {"http_server_requests", "http_server_request_duration_seconds", "lantern_build_info"} <= names


def _quantiles_from_text(text: str) -> dict[str, float | None]:
    buckets: dict[float, float] = {}
    for labels, count in parse(text).get("http_server_request_duration_seconds_bucket", []):
        bound = float(labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + count
    pairs = sorted(buckets.items())
    return {key: histogram_quantile(q, pairs) for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["query", "accept"])
def test_json_summary_matches_the_text_format(client: Client, how: str) -> None:
    """The JSON view's totals, error counts and percentiles equal those computed from the text scrape."""
    for _ in range(7):
        client.get("/")
    for _ in range(3):
        client.get("/no-such-page/")
    text = client.get("/metrics").content.decode()
    kwargs: dict[str, Any] = {"HTTP_ACCEPT": "application/json"} if how == "accept" else {}
    body = client.get("/metrics?format=json" if how == "query" else "/metrics", **kwargs).json()
    samples = parse(text)
    requests = samples["http_server_requests_total"]
    # The JSON request itself is counted after the text scrape: one more /metrics 200.
    total = sum(v for _, v in requests) + 1
    assert body["requests_total"] == total
    assert body["responses_4xx_total"] == sum(v for labels, v in requests if labels["status_code"].startswith("4"))
    assert body["responses_4xx_total"] == 3
    assert body["responses_5xx_total"] == 0
    assert body["error_rate"] == 0.0
    assert body["uptime_seconds"] > 0
    expected = _quantiles_from_text(text)
    for key, estimate in expected.items():
        assert estimate is not None
        assert body["latency_seconds"][key] == pytest.approx(estimate, abs=1e-6)
    assert body["latency_observations"] == 10  # probes and scrapes are not in the histogram


def test_json_uptime_is_the_servers_not_the_answering_workers() -> None:
    """Under several workers the totals are summed, so uptime is since the oldest process summed (the
    server-start gauge's multi-process ``min``), not the uptime of the worker that happened to answer."""
    import time

    from prometheus_client import CollectorRegistry, Gauge

    from django_lantern.metrics._views import summary

    registry = CollectorRegistry()
    # What the multi-process collector gives for the ``min`` gauge: the first worker's start.
    Gauge("lantern_server_start_time_seconds", "first worker", registry=registry).set(time.time() - 3600)
    assert summary(registry)["uptime_seconds"] == pytest.approx(3600, abs=5)


def test_histogram_quantile_matches_promql_semantics() -> None:
    """Linear interpolation inside the bucket; the +Inf bucket answers the highest finite bound."""
    inf = float("inf")
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.3)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.75)
    assert histogram_quantile(0.99, [(0.1, 1.0), (inf, 100.0)]) == 0.1
    assert histogram_quantile(0.5, [(0.1, 0.0), (inf, 0.0)]) is None
    assert histogram_quantile(0.5, []) is None


@pytest.mark.django_db
def test_error_rate_counts_server_errors(client: Client) -> None:
    """5xx responses show in the JSON error counts and rate (the scrape itself is counted after it answers)."""
    from django_lantern.metrics import _recorder as recorder

    for status in (200, 200, 500, 503):
        recorder.request_started()
        recorder.request_finished("GET", "orgs/", status, 0.01, probe=False)
    body = client.get("/metrics?format=json").json()
    assert body["responses_5xx_total"] == 2
    assert body["requests_total"] == 4
    assert body["error_rate"] == pytest.approx(2 / 4)
