"""Bounded cardinality: hostile paths and methods never create new series."""

from __future__ import annotations

import random
import string

import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.test import Client, override_settings
from django.urls import include, path
from prometheus_client import REGISTRY

from django_lantern.metrics import _recorder as recorder
from tests.metrics.conftest import series_count, value

REQUESTS = 5000

# This module is the flood's URLconf: lantern's endpoints, and a 404 without a page, since rendering
# the example's 404 template 5,000 times would cost more than everything the test measures.
urlpatterns = [path("", include("django_lantern.urls"))]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A bare 404: the recorder sees the same unmatched route and status as with the example's page."""
    return HttpResponseNotFound()


def _junk(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_random_paths_and_methods_do_not_grow_the_series(client: Client) -> None:
    """5,000 requests to random unmatched paths with made-up methods leave the series count unchanged."""
    rng = random.Random(20261124)
    # Warm up: one request per label set the flood can reach (a known method
    # and a made-up one, both unmatched), so only growth would change the count.
    client.get("/warm-up-unmatched/")
    client.generic("MADEUP", "/warm-up-unmatched/")
    client.get("/metrics")
    before = series_count()
    methods_seen: set[str] = set()
    for _ in range(REQUESTS):
        path = "/" + "/".join(_junk(rng, string.ascii_lowercase + string.digits + "-_.", 1, 12) for _ in range(3))
        if rng.random() < 0.5:
            method = _junk(rng, string.ascii_uppercase, 3, 10)
            if method in recorder.STANDARD_METHODS:
                method += "X"
        else:
            method = "GET"
        methods_seen.add(method)
        response = client.generic(method, path)
        assert response.status_code == 404
    after = series_count()
    assert len(methods_seen) > 1000  # the flood really was varied
    assert after == before, f"series grew from {before} to {after}"
    other = value("http_server_requests_total", {"method": "other", "route": "-", "status_code": "404"})
    get = value("http_server_requests_total", {"method": "GET", "route": "-", "status_code": "404"})
    assert other + get == REQUESTS + 2
    # Bounded by normalisation, not by the cap: nothing overflowed.
    assert value("lantern_label_overflow_total", {"family": "http_server_requests"}) == 0


def test_cap_folds_new_label_sets_into_overflow() -> None:
    """Past METRICS_MAX_LABEL_SETS a family folds new label sets into one overflow set and counts each fold."""
    with override_settings(LANTERN={"METRICS_MAX_LABEL_SETS": 3}):
        for i in range(50):
            recorder.request_started()
            recorder.request_finished("GET", f"route-{i}/", 200, 0.01, probe=False)
        overflow = {"method": "<overflow>", "route": "<overflow>", "status_code": "<overflow>"}
        assert value("http_server_requests_total", overflow) == 47
        assert value("lantern_label_overflow_total", {"family": "http_server_requests"}) == 47
        assert value("lantern_label_overflow_total", {"family": "http_server_request_duration_seconds"}) == 47
        routes = {
            s.labels["route"]
            for m in REGISTRY.collect()
            if m.name == "http_server_requests"
            for s in m.samples
            if s.name.endswith("_total")
        }
        assert routes == {"route-0/", "route-1/", "route-2/", "<overflow>"}
