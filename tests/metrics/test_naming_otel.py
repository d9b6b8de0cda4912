"""METRICS_NAMING: OpenTelemetry's HTTP server histogram beside ours, or instead of it.

What a dashboard built for OpenTelemetry reads is ``http_server_request_duration_seconds``
with ``http_request_method``, ``http_route``, ``http_response_status_code`` and
``error_type``; what ours read is the same name (without a namespace) with
``method`` and ``route``. These tests read the registry as a scrape would.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from django_lantern.metrics import _recorder as recorder
from django_lantern.metrics._naming import OTEL_BUCKETS
from tests.metrics.conftest import value

DURATION = "http_server_request_duration_seconds"


def _finish(method: str, route: str, status: int = 200, seconds: float = 0.06) -> None:
    recorder.request_started()
    recorder.request_finished(method, route, status, seconds, probe=False)


def _samples(name: str) -> list[dict[str, str]]:
    return [s.labels for family in REGISTRY.collect() for s in family.samples if s.name == name]


def _sum(name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in REGISTRY.collect()
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_default_naming_has_only_our_labels() -> None:
    """ "lantern" (the default): the histogram keeps its two labels, nothing else is declared."""
    _finish("GET", "/orgs/")
    assert _samples(DURATION + "_count") == [{"method": "GET", "route": "/orgs/"}]


@override_settings(LANTERN={"METRICS_NAMING": "both"})
def test_both_without_namespace_is_one_histogram_with_both_label_sets() -> None:
    """One name is one family: each request is observed once, and summing by either
    label set (ours or OpenTelemetry's) gives the same totals."""
    _finish("GET", "/orgs/<slug:slug>/", 200)
    _finish("GET", "/orgs/<slug:slug>/", 200)
    _finish("POST", "/orgs/<slug:slug>/", 500)
    _finish("PROPFIND", "-", 404)
    count = DURATION + "_count"
    assert _sum(count) == 4
    assert _sum(count, route="/orgs/<slug:slug>/") == _sum(count, http_route="/orgs/<slug:slug>/") == 3
    assert _sum(count, method="GET") == _sum(count, http_request_method="GET") == 2
    assert _sum(count, http_response_status_code="500", error_type="500") == 1
    # Not an error for a server: no error_type, which Prometheus reads as absent.
    assert _sum(count, http_response_status_code="200", error_type="") == 2
    # No pattern matched: our "-", and no http_route at all (the conventions forbid a path there).
    assert _sum(count, route="-", http_route="", http_request_method="_OTHER", method="other") == 1
    # Both bucket lists: OpenTelemetry's advisory boundaries and the configured ones.
    bounds = {float(s["le"]) for s in _samples(DURATION + "_bucket")}
    assert set(OTEL_BUCKETS) <= bounds and {0.005, 0.1, 10.0} <= bounds
    assert _sum(DURATION + "_bucket", le="0.05") == 0 and _sum(DURATION + "_bucket", le="0.075") == 4


@override_settings(LANTERN={"METRICS_NAMING": "both", "METRICS_NAMESPACE": "shop"})
def test_both_under_a_namespace_is_two_histograms() -> None:
    """Under a namespace ours is shop_…, and OpenTelemetry's keeps its unprefixed name."""
    _finish("GET", "/orgs/", 503)
    assert value("shop_" + DURATION + "_count", {"method": "GET", "route": "/orgs/"}) == 1
    labels = {
        "http_request_method": "GET",
        "http_route": "/orgs/",
        "http_response_status_code": "503",
        "error_type": "503",
    }
    assert value(DURATION + "_count", labels) == 1
    assert value(DURATION + "_bucket", {**labels, "le": "0.075"}) == 1
    _finish("GET", "/orgs/", 503)  # the cached pair observes both again
    assert (
        value(DURATION + "_count", labels)
        == value("shop_" + DURATION + "_count", {"route": "/orgs/", "method": "GET"})
        == 2
    )


@override_settings(LANTERN={"METRICS_NAMING": "otel"})
def test_otel_replaces_our_histogram_and_keeps_the_request_counter() -> None:
    """ "otel": the histogram has only OpenTelemetry's labels and buckets; the request counter stays ours."""
    _finish("DELETE", "/orgs/", 204, seconds=0.7)
    assert _samples(DURATION + "_count") == [
        {"http_request_method": "DELETE", "http_route": "/orgs/", "http_response_status_code": "204", "error_type": ""}
    ]
    assert _sum(DURATION + "_bucket", le="0.75") == 1 and _sum(DURATION + "_bucket", le="0.5") == 0
    assert value("http_server_requests_total", {"method": "DELETE", "route": "/orgs/", "status_code": "204"}) == 1


@pytest.mark.django_db
@override_settings(LANTERN={"METRICS_NAMING": "both"})
def test_random_paths_add_no_series(client: Client) -> None:
    """Through the middleware: unmatched paths share one label set, whatever the client sends."""
    client.get("/")
    before = len(_samples(DURATION + "_count"))
    for i in range(50):
        client.get(f"/random/{i}/x{i * 7}/")
    after = _samples(DURATION + "_count")
    assert len(after) == before + 1
    assert _sum(DURATION + "_count", http_route="", http_response_status_code="404") == 50


@override_settings(LANTERN={"METRICS_NAMING": "both", "METRICS_NAMESPACE": "shop", "METRICS_MAX_LABEL_SETS": 3})
def test_otel_family_is_capped_and_its_folds_counted() -> None:
    """The OpenTelemetry family has the same cap as ours, and its folds are counted under its name."""
    for i in range(10):
        _finish("GET", f"/r{i}/")
    assert len(_samples(DURATION + "_count")) == 4  # three label sets and the overflow set
    assert _sum(DURATION + "_count", http_route="<overflow>") == 7
    assert value("shop_lantern_label_overflow_total", {"family": DURATION}) == 7
