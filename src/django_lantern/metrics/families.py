"""Metric families, defined once per process with the configured namespace.

Names follow Prometheus conventions (base units, ``_total`` added by the
client for counters, never doubled) and OpenTelemetry's HTTP semantic
conventions for meaning: ``http_server_requests_total`` is
``http.server.request`` counted, the histogram is
``http.server.request.duration``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from django_lantern import _reset_hooks
from django_lantern.conf import get_settings

PROCESS_START = time.time()


@dataclass
class Families:
    registry: CollectorRegistry
    prefix: str
    requests: Counter
    duration: Histogram
    active: Gauge
    exceptions: Counter
    internal_errors: Counter
    label_overflow: Counter

    def unregister(self) -> None:
        for collector in (
            self.requests, self.duration, self.active, self.exceptions,
            self.internal_errors, self.label_overflow,
        ):
            try:
                self.registry.unregister(collector)
            except KeyError:
                pass


_families: Families | None = None
_lock = threading.Lock()


def _name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}" if prefix else name


def build(registry: CollectorRegistry = REGISTRY) -> Families:
    cfg = get_settings()
    p = cfg.metrics_namespace
    return Families(
        registry=registry,
        prefix=p,
        requests=Counter(
            _name(p, "http_server_requests"),
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status_code"],
            registry=registry,
        ),
        duration=Histogram(
            _name(p, "http_server_request_duration_seconds"),
            "Time from the first middleware to the response, by method and route template.",
            ["method", "route"],
            buckets=cfg.metrics_latency_buckets,
            registry=registry,
        ),
        active=Gauge(
            _name(p, "http_server_active_requests"),
            "Requests being served right now.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        exceptions=Counter(
            _name(p, "http_server_exceptions"),
            "Unhandled exceptions raised by views, by exception type.",
            ["exception_type"],
            registry=registry,
        ),
        internal_errors=Counter(
            _name(p, "lantern_internal_errors"),
            "Errors inside django-lantern itself (never raised into the request).",
            ["where"],
            registry=registry,
        ),
        label_overflow=Counter(
            _name(p, "lantern_label_overflow"),
            "Observations folded into the overflow label set because a family hit its cap.",
            ["family"],
            registry=registry,
        ),
    )


def get_families() -> Families:
    global _families
    families = _families
    if families is None:
        with _lock:
            if _families is None:
                _families = build()
            families = _families
    return families


def reset() -> None:
    global _families
    with _lock:
        if _families is not None:
            _families.unregister()
        _families = None


_reset_hooks.append(reset)
