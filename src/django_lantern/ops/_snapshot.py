"""The metrics the page shows, read from the (multi-process) registry into plain numbers.

One ``Snapshot`` is what ``/metrics`` would show now, summed over every worker
of this host (``metrics/_views.scrape_registry``): request counts by status
class, the latency histogram summed over routes, per-route counts, time and
errors, tasks, readiness and, when the per-route DB families exist, queries
and DB time per route. Counters only grow, so the page's per-minute history
is the difference of two snapshots (a restart that lowers a counter is read
as starting from zero, as PromQL's ``increase`` does).

Snapshots are plain dicts and lists so they pickle small into any cache.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from django_lantern.metrics._families import get_families
from django_lantern.metrics._naming import metric_name
from django_lantern.metrics._views import histogram_quantile, multiprocess_dir, scrape_registry
from django_lantern.metrics.archive import collect_locked

# The most routes one snapshot keeps, busiest first; the registry's own cap is usually lower.
MAX_ROUTES = 1000
MAX_TASKS = 200
MAX_CHECKS = 50

Snapshot = dict[str, Any]


def _names(prefix: str) -> dict[str, str]:
    n = {
        "requests": "http_server_requests",
        "duration": "http_server_request_duration_seconds",
        "exceptions": "http_server_exceptions",
        "db_queries": "http_server_request_db_queries",
        "db_time": "http_server_request_db_duration_seconds",
        "tasks": "lantern_tasks",
        "task_wait": "lantern_task_queue_wait_seconds",
        "check_up": "lantern_readiness_check_up",
        "check_seconds": "lantern_readiness_check_duration_seconds",
        "server_start": "lantern_server_start_time_seconds",
    }
    return {key: metric_name(prefix, name) for key, name in n.items()}


def _route_of(labels: dict[str, str]) -> str:
    # OpenTelemetry's naming (METRICS_NAMING) spells the route label http_route.
    return labels.get("route") or labels.get("http_route") or "-"


def _route(routes: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    found = routes.get(name)
    if found is None:
        found = routes[name] = {"count": 0.0, "sum": 0.0, "e4": 0.0, "e5": 0.0, "buckets": {}, "dbq": 0.0, "dbs": 0.0}
    return found


def take(registry: CollectorRegistry | None = None, prefix: str | None = None) -> Snapshot:
    """What the registry holds now (the scrape registry by default), every family: the flush thread's minute."""
    if registry is None:
        registry = scrape_registry()
    if prefix is None:
        prefix = get_families().prefix
    return from_samples(_samples(registry.collect()), prefix)


def take_totals(prefix: str | None = None) -> Snapshot:
    """The counters and gauges only (no histogram): the page's live totals, cheap with many routes.

    The latency histograms hold most of the samples (a series per bucket), and
    the totals need none of them: under the multi-process mode only the counter
    and gauge files are read; in one process only those families are collected.
    """
    if prefix is None:
        prefix = get_families().prefix
    directory = multiprocess_dir()
    if directory:
        families: Iterable[Any] = collect_locked(directory, kinds=("counter", "gauge"))
    else:
        n = _names(prefix)
        wanted = {n["requests"] + "_total", n["exceptions"] + "_total", n["tasks"] + "_total"}
        wanted |= {n["check_up"], n["check_seconds"], n["server_start"]}
        families = REGISTRY.restricted_registry(wanted).collect()
    return from_samples(_samples(families), prefix)


ROUTE_KEYS = ("routes",)


def split(snapshot: Snapshot) -> tuple[Snapshot, Snapshot]:
    """(everything but the routes, the routes): the page reads the first for every minute, the second twice."""
    small = {k: v for k, v in snapshot.items() if k not in ROUTE_KEYS}
    return small, {k: snapshot[k] for k in ROUTE_KEYS}


def _samples(families: Iterable[Any]) -> Iterable[tuple[str, dict[str, str], float]]:
    for family in families:
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value


def from_samples(samples: Iterable[tuple[str, dict[str, str], float]], prefix: str) -> Snapshot:
    n = _names(prefix)
    by_class = {"2xx": 0.0, "3xx": 0.0, "4xx": 0.0, "5xx": 0.0, "other": 0.0}
    buckets: dict[float, float] = {}
    routes: dict[str, dict[str, Any]] = {}
    tasks: dict[str, dict[str, float]] = {}
    checks: dict[str, dict[str, float]] = {}
    exceptions = 0.0
    started = None
    for name, labels, value in samples:
        if name == n["requests"] + "_total":
            status = labels.get("status_code", "")
            klass = status[:1] + "xx" if status[:1] in "2345" and len(status) == 3 else "other"
            by_class[klass] += value
            route = _route(routes, _route_of(labels))
            route["count"] += value
            if klass in ("4xx", "5xx"):
                route["e" + klass[0]] += value
        elif name == n["duration"] + "_bucket":
            le = float(labels.get("le", "inf"))
            buckets[le] = buckets.get(le, 0.0) + value
            per = _route(routes, _route_of(labels))["buckets"]
            per[le] = per.get(le, 0.0) + value
        elif name == n["duration"] + "_sum":
            _route(routes, _route_of(labels))["sum"] += value
        elif name == n["db_queries"] + "_sum":
            _route(routes, _route_of(labels))["dbq"] += value
        elif name == n["db_time"] + "_sum":
            _route(routes, _route_of(labels))["dbs"] += value
        elif name == n["exceptions"] + "_total":
            exceptions += value
        elif name == n["tasks"] + "_total":
            task = tasks.setdefault(labels.get("task", "-"), {"runs": 0.0, "failures": 0.0, "wait": 0.0, "waits": 0.0})
            task["runs"] += value
            if labels.get("outcome") == "failure":
                task["failures"] += value
        elif name in (n["task_wait"] + "_sum", n["task_wait"] + "_count"):
            task = tasks.setdefault(labels.get("task", "-"), {"runs": 0.0, "failures": 0.0, "wait": 0.0, "waits": 0.0})
            task["wait" if name.endswith("_sum") else "waits"] += value
        elif name in (n["check_up"], n["check_seconds"]):
            check = checks.setdefault(f"{labels.get('kind', '')}:{labels.get('check', '')}", {})
            check["up" if name == n["check_up"] else "seconds"] = value
        elif name == n["server_start"]:
            started = value if started is None else min(started, value)
    busiest = sorted(routes.items(), key=lambda item: -item[1]["count"])[:MAX_ROUTES]
    return {
        "requests": by_class,
        "buckets": sorted(buckets.items()),
        "routes": {name: _packed(r) for name, r in busiest},
        "exceptions": exceptions,
        "tasks": dict(sorted(tasks.items(), key=lambda item: -item[1]["runs"])[:MAX_TASKS]),
        "checks": dict(sorted(checks.items())[:MAX_CHECKS]),
        "server_start": started,
    }


def _packed(route: dict[str, Any]) -> dict[str, Any]:
    return {**route, "buckets": sorted(route["buckets"].items())}


def increase(now: float, before: float | None) -> float:
    """A counter's growth between two readings; a lower reading is a restart (counted from zero)."""
    if before is None or now < before:
        return now
    return now - before


def bucket_increase(
    now: list[tuple[float, float]], before: list[tuple[float, float]] | None
) -> list[tuple[float, float]]:
    old = dict(before or ())
    if old and sum(old.values()) > sum(v for _, v in now):  # a restart: the histogram started again
        old = {}
    return [(le, max(0.0, count - old.get(le, 0.0))) for le, count in now]


def quantiles(buckets: list[tuple[float, float]]) -> dict[str, float | None]:
    if not buckets or not math.isinf(buckets[-1][0]):
        return {"p50": None, "p95": None, "p99": None}
    return {name: histogram_quantile(q, buckets) for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
