"""The ``/metrics`` endpoint: Prometheus text, OpenMetrics, or JSON.

Protected by default: a request is served only when it carries the configured
bearer token (compared in constant time) or comes from an allowed network
(loopback and private ranges by default). Anything else gets 403 with no
metric data.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from functools import lru_cache
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from django_lantern.conf import get_settings
from django_lantern.metrics.families import PROCESS_START, get_families


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def is_allowed(request: HttpRequest) -> bool:
    cfg = get_settings()
    token = cfg.metrics_bearer_token
    if token:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return True
    # REMOTE_ADDR is the peer the server saw; X-Forwarded-For is never trusted here.
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in net for net in _networks(cfg.metrics_allowed_networks))


def scrape_registry() -> CollectorRegistry:
    """The registry to expose: a fresh multi-process collector per scrape when
    ``PROMETHEUS_MULTIPROC_DIR`` is set (the client's documented pattern)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def summary(registry: CollectorRegistry) -> dict[str, Any]:
    """The JSON view's numbers, computed from the same samples as the text format."""
    fams = get_families()
    requests_name = f"{fams.prefix}_http_server_requests" if fams.prefix else "http_server_requests"
    total = 0.0
    client_errors = 0.0
    server_errors = 0.0
    for metric in registry.collect():
        if metric.name != requests_name:
            continue
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue
            total += sample.value
            status = sample.labels.get("status_code", "")
            if status.startswith("4"):
                client_errors += sample.value
            elif status.startswith("5"):
                server_errors += sample.value
    return {
        "uptime_seconds": round(time.time() - PROCESS_START, 3),
        "requests_total": int(total),
        "responses_4xx_total": int(client_errors),
        "responses_5xx_total": int(server_errors),
        "error_rate": round(server_errors / total, 6) if total else 0.0,
    }


def _wants_json(request: HttpRequest) -> bool:
    if request.GET.get("format") == "json":
        return True
    accept = request.META.get("HTTP_ACCEPT", "")
    return "application/json" in accept


def metrics_response(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if not is_allowed(request):
        response = HttpResponse("Forbidden\n", status=403, content_type="text/plain")
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
    return response
