"""Connection pool metrics for Django 5.1+'s psycopg 3 pool, read at scrape time.

Django keeps one ``psycopg_pool.ConnectionPool`` per alias whose
``OPTIONS`` has ``"pool"``, shared by every thread of the process. Its
``get_stats()`` already holds what an operator needs when the pool runs dry
(size, idle, waiting requests, cumulative wait time, timeouts), so this
collector copies those numbers into Prometheus families when ``/metrics``
is scraped and costs nothing per request or per query.

Only pools that already exist are read: ``connection.pool`` would create
(and later open) one, and a scrape must never open database connections.
Under gunicorn's multi-process mode each worker has its own pool and the
scrape reaches one worker, so there the series carry a ``pid`` label: the
counters of different workers never mix into one series that seems to go
backwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from django_lantern._errors import report_internal_error

# (family name, help, psycopg_pool stats key, scale) for the cumulative numbers.
_COUNTERS = (
    ("django_db_pool_requests", "Connections requested from the pool.", "requests_num", 1.0),
    (
        "django_db_pool_requests_queued",
        "Connection requests that had to wait because no connection was idle.",
        "requests_queued",
        1.0,
    ),
    (
        "django_db_pool_wait_seconds",
        "Time spent waiting for a connection from the pool, summed over requests.",
        "requests_wait_ms",
        0.001,
    ),
    (
        "django_db_pool_request_errors",
        "Connection requests that failed: timed out waiting, pool closed or too many waiting.",
        "requests_errors",
        1.0,
    ),
    (
        "django_db_pool_connection_errors",
        "Failed attempts by the pool to open a connection to the server.",
        "connections_errors",
        1.0,
    ),
    ("django_db_pool_connections_lost", "Pooled connections found broken and discarded.", "connections_lost", 1.0),
)


def existing_pools() -> Iterator[tuple[str, Any]]:
    """``(alias, pool)`` for every alias configured with a pool whose pool exists in this process."""
    from django.db import connections

    for alias in connections:
        options = connections.settings[alias].get("OPTIONS") or {}
        if not options.get("pool"):
            continue
        # Building the wrapper opens nothing; the pools live in a class-level
        # dict keyed by alias (django.db.backends.postgresql.base).
        pools = getattr(type(connections[alias]), "_connection_pools", None)
        pool = pools.get(alias) if isinstance(pools, dict) else None
        if pool is not None and hasattr(pool, "get_stats"):
            yield alias, pool


class PoolCollector(Collector):
    """A custom collector: one ``get_stats()`` per pool per scrape."""

    def __init__(self, prefix: str, *, per_process: bool = False) -> None:
        self.prefix = prefix
        self.per_process = per_process

    def describe(self) -> list[Metric]:
        # Without describe() the registry would call collect() at registration,
        # before Django's settings may even be ready.
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            pools = [(alias, pool.get_stats()) for alias, pool in existing_pools()]
        except Exception as exc:  # a scrape must not fail over pool bookkeeping
            report_internal_error("db_pool_metrics", exc)
            return
        if pools:  # no pool configured or opened yet: no empty families either
            yield from self._families(pools)

    def _name(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def _families(self, pools: list[tuple[str, dict[str, int]]]) -> Iterator[Metric]:
        name = self._name
        labels = ["alias", "pid"] if self.per_process else ["alias"]
        pid = [str(os.getpid())] if self.per_process else []
        connections = GaugeMetricFamily(
            name("django_db_pool_connections"),
            "Connections held by the pool, by state: idle (ready to hand out) or used (checked out).",
            labels=[*labels, "state"],
        )
        maximum = GaugeMetricFamily(
            name("django_db_pool_max_connections"), "The most connections the pool may open.", labels=labels
        )
        minimum = GaugeMetricFamily(
            name("django_db_pool_min_connections"), "The connections the pool keeps open.", labels=labels
        )
        pending = GaugeMetricFamily(
            name("django_db_pool_pending_requests"),
            "Requests waiting for a connection right now (above 0 for long: the pool is exhausted).",
            labels=labels,
        )
        counters = [(CounterMetricFamily(name(n), h, labels=labels), key, scale) for n, h, key, scale in _COUNTERS]
        for alias, stats in pools:
            values = [alias, *pid]
            size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
            connections.add_metric([*values, "idle"], idle)
            connections.add_metric([*values, "used"], max(size - idle, 0))
            maximum.add_metric(values, stats.get("pool_max", 0))
            minimum.add_metric(values, stats.get("pool_min", 0))
            pending.add_metric(values, stats.get("requests_waiting", 0))
            for family, key, scale in counters:
                family.add_metric(values, stats.get(key, 0) * scale)
        yield connections
        yield maximum
        yield minimum
        yield pending
        for family, _, _ in counters:
            yield family
