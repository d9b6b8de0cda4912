"""The ``/metrics`` endpoint: Prometheus text, OpenMetrics, or JSON.

Protected by default: a request is served only when it carries the configured
bearer token (compared in constant time) or comes from an allowed network
(loopback and private ranges by default). Anything else gets 403 with no
metric data.
"""

from __future__ import annotations

import hmac
import math
import os
import time
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from django_lantern.conf import get_settings
from django_lantern.http._networks import peer_in
from django_lantern.metrics._families import get_families
from django_lantern.metrics._naming import metric_name
from django_lantern.metrics._pool import PoolCollector
from django_lantern.metrics._process_start import process_start
from django_lantern.metrics._workers import refusal
from django_lantern.metrics.archive import LockedCollector

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def is_allowed(request: HttpRequest) -> bool:
    cfg = get_settings()
    token = cfg.metrics_bearer_token
    if token is not None:
        scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return True
    # Parsed once, with the settings; an invalid entry was dropped, so it allows no one.
    return peer_in(request.META, cfg.metrics_allowed_networks)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape_registry() -> CollectorRegistry:
    """The registry to expose: a fresh multi-process collector per scrape when
    ``PROMETHEUS_MULTIPROC_DIR`` is set (the client's documented pattern)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        LockedCollector(registry)  # reads under the lock dead workers' archiving takes
        # Pool statistics live in this worker's memory, not in the files.
        registry.register(PoolCollector(get_families().prefix, per_process=True))
        return registry
    return REGISTRY


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """PromQL's ``histogram_quantile`` on cumulative ``(upper_bound, count)`` pairs,
    so the JSON view and a dashboard agree on the same data."""
    if not buckets:
        return None
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total <= 0 or not math.isinf(buckets[-1][0]):
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for i, (upper, count) in enumerate(buckets):
        if count >= rank:
            if math.isinf(upper):
                # Prometheus answers with the highest finite bound here.
                return buckets[i - 1][0] if i > 0 else None
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return None  # pragma: no cover - the +Inf bucket always holds the total


def summary(registry: CollectorRegistry) -> dict[str, Any]:
    """The JSON view's numbers, computed from the same samples as the text format."""
    prefix = get_families().prefix
    requests_name = metric_name(prefix, "http_server_requests")
    duration_name = metric_name(prefix, "http_server_request_duration_seconds")
    active_name = metric_name(prefix, "http_server_active_requests")
    total = client_errors = server_errors = active = 0.0
    buckets: dict[float, float] = {}
    observed = 0.0
    for metric in registry.collect():
        if metric.name == requests_name:
            for sample in metric.samples:
                if not sample.name.endswith("_total"):
                    continue
                total += sample.value
                status = sample.labels.get("status_code", "")
                if status.startswith("4"):
                    client_errors += sample.value
                elif status.startswith("5"):
                    server_errors += sample.value
        elif metric.name == duration_name:
            for sample in metric.samples:
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
                elif sample.name.endswith("_count"):
                    observed += sample.value
        elif metric.name == active_name:
            active += sum(s.value for s in metric.samples)
    pairs = sorted(buckets.items())
    latency = {}
    for key, q in QUANTILES:
        value = histogram_quantile(q, pairs)
        latency[key] = round(value, 6) if value is not None else None
    return {
        "uptime_seconds": round(time.time() - process_start(), 3),
        "requests_total": int(total),
        "requests_in_flight": int(active),
        "responses_4xx_total": int(client_errors),
        "responses_5xx_total": int(server_errors),
        # Server errors over all requests, the ratio the alerting rule uses.
        "error_rate": round(server_errors / total, 6) if total else 0.0,
        # Estimated from the histogram exactly as histogram_quantile() would;
        # probes and scrapes are not in it unless configured to be.
        "latency_seconds": latency,
        "latency_observations": int(observed),
    }


def _wants_json(request: HttpRequest) -> bool:
    if request.GET.get("format") == "json":
        return True
    return "application/json" in request.META.get("HTTP_ACCEPT", "")


def forbidden() -> HttpResponse:
    response = HttpResponse("Forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def metrics_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.method not in ("GET", "HEAD"):
        response = HttpResponseNotAllowed(["GET", "HEAD"])
        response["Cache-Control"] = "no-store"
        return response
    if not is_allowed(request):
        return forbidden()
    refused = refusal()
    if refused is not None:  # one worker's numbers would read as the service's totals
        response = HttpResponse(refused + "\n", status=503, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response
    get_families()  # make sure the families exist before the first scrape
    registry = scrape_registry()
    if _wants_json(request):
        response = JsonResponse(summary(registry))
    else:
        encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
        response = HttpResponse(encoder(registry), content_type=content_type)
    response["Cache-Control"] = "no-store"
    response["Content-Length"] = str(len(response.content))  # see health.views._finish
    if request.method == "HEAD":
        response.content = b""
    return response
