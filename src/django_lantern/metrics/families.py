"""Metric families, defined once per process with the configured namespace.

Names follow Prometheus conventions (base units, ``_total`` added by the
client for counters, never doubled) and OpenTelemetry's HTTP semantic
conventions for meaning: ``http_server_requests_total`` is
``http.server.request`` counted, the histogram is
``http.server.request.duration``.

Every gauge names its multi-process mode on purpose: under gunicorn each
worker writes its own file and the mode says how the scrape combines them.
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from dataclasses import dataclass, fields
from typing import Any

import django
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from django_lantern import __version__, _reset_hooks
from django_lantern.conf import LanternSettings, get_settings
from django_lantern.metrics.pool import PoolCollector

PROCESS_START = time.time()
_IMPORT_PID = os.getpid()

# Query latencies sit an order of magnitude below request latencies.
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Label values that come from configuration or the environment, not from
# clients, are still clipped: a 10 kB release string is a mistake, not a label.
MAX_INFO_LABEL = 128
UNKNOWN = "unknown"

# The capped families, by the name ``lantern_label_overflow_total`` reports.
CAPPED_FAMILIES = (
    "http_server_requests",
    "http_server_request_duration_seconds",
    "http_server_exceptions",
    "django_db_query_duration_seconds",
    "django_cache_operations",
    "lantern_readiness_check",
)


def _os_start_time() -> float | None:
    """The kernel's start time of this process (Linux), so a worker forked after
    import (gunicorn ``preload_app``) reports its own start, not the master's."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            # Field 22 counts clock ticks since boot; the command name (field 2)
            # may contain spaces, so split after its closing parenthesis.
            ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as boot:
            btime = next(int(line.split()[1]) for line in boot if line.startswith(b"btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


_starts: dict[int, float] = {}


def process_start() -> float:
    """Unix time this process started (read once per pid); the import time where /proc is missing."""
    pid = os.getpid()
    start = _starts.get(pid)
    if start is None:
        start = _starts.setdefault(pid, _os_start_time() or (PROCESS_START if pid == _IMPORT_PID else time.time()))
    return start


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
    db_duration: Histogram
    db_errors: Counter
    db_new_connections: Counter
    db_connection_errors: Counter
    db_pools: PoolCollector
    cache_operations: Counter
    build_info: Gauge
    start_time: Gauge
    readiness_up: Gauge
    readiness_check_up: Gauge
    readiness_check_duration: Gauge
    sentry_lost_events: Counter

    def collectors(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self) if f.name not in ("registry", "prefix")]

    def unregister(self) -> None:
        for collector in self.collectors():
            with contextlib.suppress(KeyError):
                self.registry.unregister(collector)


_families: Families | None = None
_lock = threading.Lock()


def metric_name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}" if prefix else name


def _info_value(value: object) -> str:
    if not isinstance(value, str) or not value:
        return UNKNOWN
    return value[:MAX_INFO_LABEL]


def build_labels(cfg: LanternSettings) -> dict[str, str]:
    """``release`` and ``environment``: the LANTERN setting, else Sentry's
    variables, so that a deploy tags metrics and errors with the same values."""
    raw = cfg.raw
    release = raw.get("METRICS_RELEASE") or raw.get("SENTRY_RELEASE") or os.environ.get("SENTRY_RELEASE")
    environment = (
        raw.get("METRICS_ENVIRONMENT") or raw.get("SENTRY_ENVIRONMENT") or os.environ.get("SENTRY_ENVIRONMENT")
    )
    return {
        "version": __version__,
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
        "release": _info_value(release),
        "environment": _info_value(environment),
    }


def build(registry: CollectorRegistry = REGISTRY) -> Families:
    cfg = get_settings()
    p = cfg.metrics_namespace
    info = build_labels(cfg)
    families = Families(
        registry=registry,
        prefix=p,
        requests=Counter(
            metric_name(p, "http_server_requests"),
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status_code"],
            registry=registry,
        ),
        duration=Histogram(
            metric_name(p, "http_server_request_duration_seconds"),
            "Time from the first middleware to the response, by method and route template.",
            ["method", "route"],
            buckets=cfg.metrics_latency_buckets,
            registry=registry,
        ),
        active=Gauge(
            metric_name(p, "http_server_active_requests"),
            "Requests being served right now.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        exceptions=Counter(
            metric_name(p, "http_server_exceptions"),
            "Unhandled exceptions raised by views, by exception type.",
            ["exception_type"],
            registry=registry,
        ),
        internal_errors=Counter(
            metric_name(p, "lantern_internal_errors"),
            "Errors inside django-lantern itself (never raised into the request).",
            ["where"],
            registry=registry,
        ),
        label_overflow=Counter(
            metric_name(p, "lantern_label_overflow"),
            "Observations folded into the overflow label set because a family hit its cap.",
            ["family"],
            registry=registry,
        ),
        db_duration=Histogram(
            metric_name(p, "django_db_query_duration_seconds"),
            "Database queries (the _count) and their duration, by connection alias.",
            ["alias"],
            buckets=DB_BUCKETS,
            registry=registry,
        ),
        db_errors=Counter(
            metric_name(p, "django_db_query_errors"),
            "Database queries that raised, by connection alias.",
            ["alias"],
            registry=registry,
        ),
        db_new_connections=Counter(
            metric_name(p, "django_db_new_connections"),
            "Database connections opened by Django (with a pool: taken from it), by alias.",
            ["alias"],
            registry=registry,
        ),
        db_connection_errors=Counter(
            metric_name(p, "django_db_new_connection_errors"),
            "Attempts to open a database connection that raised, by alias.",
            ["alias"],
            registry=registry,
        ),
        db_pools=PoolCollector(p),
        cache_operations=Counter(
            metric_name(p, "django_cache_operations"),
            "Cache operations by cache alias, operation and result (hit, miss, ok, error).",
            ["alias", "operation", "result"],
            registry=registry,
        ),
        build_info=Gauge(
            metric_name(p, "lantern_build_info"),
            "Always 1; the labels say what is running.",
            list(info),
            registry=registry,
            # Only live workers: after a reload with a new release the old
            # release's series disappear instead of lingering until restart.
            multiprocess_mode="livemax",
        ),
        start_time=Gauge(
            metric_name(p, "lantern_process_start_time_seconds"),
            "Start time of the process (under gunicorn: of the most recently started live worker), Unix seconds.",
            registry=registry,
            # livemax: changes() over this series counts worker (re)starts.
            multiprocess_mode="livemax",
        ),
        readiness_up=Gauge(
            metric_name(p, "lantern_readiness_up"),
            "1 when the last /readyz answered ready, 0 when it answered not ready.",
            registry=registry,
            # The newest probe result across workers, including ones since replaced.
            multiprocess_mode="mostrecent",
        ),
        readiness_check_up=Gauge(
            metric_name(p, "lantern_readiness_check_up"),
            "1 when the readiness check passed in the last /readyz, else 0.",
            ["check", "kind"],
            registry=registry,
            multiprocess_mode="mostrecent",
        ),
        readiness_check_duration=Gauge(
            metric_name(p, "lantern_readiness_check_duration_seconds"),
            "How long the readiness check took in the last /readyz.",
            ["check", "kind"],
            registry=registry,
            multiprocess_mode="mostrecent",
        ),
        sentry_lost_events=Counter(
            metric_name(p, "lantern_sentry_lost_events"),
            "Sentry events and spans sentry-sdk gave up on (full queue, network or HTTP error, rate limit), "
            "by reason and data category.",
            ["reason", "category"],
            registry=registry,
        ),
    )
    registry.register(families.db_pools)
    families.build_info.labels(**info).set(1)
    families.start_time.set(process_start())
    # Known label values start at zero, so "no overflow" is a 0, not an absent series.
    for name in CAPPED_FAMILIES:
        families.label_overflow.labels(metric_name(p, name)).inc(0)
    return families


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
