"""Metric families, defined once per process with the configured namespace.

Names follow Prometheus conventions (base units, ``_total`` added by the
client for counters, never doubled) and OpenTelemetry's HTTP semantic
conventions for meaning: ``http_server_requests_total`` is
``http.server.request`` counted, the histogram is
``http.server.request.duration``. ``METRICS_NAMING`` adds (or, "otel", puts
in its place) OpenTelemetry's own spelling of that histogram: see
:func:`_durations`.

Every gauge names its multi-process mode on purpose: under gunicorn each
worker writes its own file and the mode says how the scrape combines them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from django_lantern._caching import settings_cache
from django_lantern.conf import get_settings
from django_lantern.metrics._capped import CappedFamily
from django_lantern.metrics._naming import OTEL_BUCKETS, OTEL_DURATION, OTEL_LABELS, build_labels, metric_name
from django_lantern.metrics._pool import PoolCollector
from django_lantern.metrics._process_start import process_start

# Tasks run from milliseconds to hours; queues wait from nothing to a backlog.
TASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

# Query latencies sit an order of magnitude below request latencies.
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Our request duration histogram's name, without the namespace: OpenTelemetry's, too.
DURATION = "http_server_request_duration_seconds"
# Queries one request runs: none, a few, an N+1 loop, a report.
QUERIES_PER_REQUEST_BUCKETS = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)

# The capped families, by the name ``lantern_label_overflow_total`` reports.
# The three task families share one cap on task names, reported as the first.
TASK_FAMILY = "lantern_tasks"
CAPPED_FAMILIES = (
    "http_server_requests",
    DURATION,
    "http_server_exceptions",
    "http_server_request_db_queries",
    "http_server_request_db_duration_seconds",
    "django_db_query_duration_seconds",
    "django_cache_operations",
    "lantern_readiness_check",
    TASK_FAMILY,
)


@dataclass
class Families:
    registry: CollectorRegistry
    prefix: str
    requests: Counter
    duration: Histogram
    request_db_queries: Histogram
    request_db_duration: Histogram
    active: Gauge
    exceptions: Counter
    internal_errors: Counter
    db_duration: Histogram
    db_errors: Counter
    db_new_connections: Counter
    db_connection_errors: Counter
    db_pools: PoolCollector
    cache_operations: Counter
    build_info: Gauge
    start_time: Gauge
    server_start_time: Gauge
    readiness_up: Gauge
    readiness_check_up: Gauge
    readiness_check_duration: Gauge
    sentry_lost_events: Counter
    # Which labels ``duration`` has: "lantern" (method, route), "otel"
    # (``OTEL_LABELS``) or "both" (the two, one family: see ``_durations``).
    duration_labels: str = "lantern"
    # OpenTelemetry's histogram beside ours, when both are asked for under a namespace.
    otel_duration: Histogram | None = None

    def collectors(self) -> list[Collector]:
        found = (getattr(self, f.name) for f in fields(self) if f.name not in ("registry", "prefix", "duration_labels"))
        return [c for c in found if c is not None]

    def unregister(self) -> None:
        for collector in self.collectors():
            with contextlib.suppress(KeyError):
                self.registry.unregister(collector)
        for hook in _unregister_hooks:
            hook()


# Called after families are unregistered, so that whatever keeps their children
# outside the recorder (the query wrappers on open connections) lets go of them.
_unregister_hooks: list[Callable[[], object]] = []


def on_unregister(hook: Callable[[], object]) -> None:
    """Run ``hook()`` whenever families are unregistered (idempotent per hook)."""
    if hook not in _unregister_hooks:
        _unregister_hooks.append(hook)


# The multi-process modes used here (prometheus_client accepts a few more).
GaugeMode = Literal["livesum", "livemax", "mostrecent", "min"]


class _Declare:
    """Declares families with one prefix into one registry (the argument lists stay short)."""

    def __init__(self, prefix: str, registry: CollectorRegistry) -> None:
        self.prefix = prefix
        self.registry = registry

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(metric_name(self.prefix, name), doc, labels, registry=self.registry)

    def histogram(self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
        return Histogram(metric_name(self.prefix, name), doc, labels, buckets=buckets, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = (), *, mode: GaugeMode) -> Gauge:
        # Every gauge names its multi-process mode: see the module docstring.
        return Gauge(metric_name(self.prefix, name), doc, labels, registry=self.registry, multiprocess_mode=mode)


DURATION_DOC = "Time from the first middleware to the response"


def _durations(d: _Declare, naming: str, buckets: Sequence[float]) -> tuple[Histogram, str, Histogram | None]:
    """The request duration histogram, which labels it has, and OpenTelemetry's beside it.

    With no namespace our name is OpenTelemetry's, and one name is one family:
    "both" then declares one histogram with both label sets and both bucket
    lists, so each request is observed once and the shipped rules (which sum
    by ``route`` or ``le``) read it as before. Under a namespace the names
    differ and "both" declares two.
    """

    def otel() -> Histogram:
        return _Declare("", d.registry).histogram(OTEL_DURATION, DURATION_DOC + ".", OTEL_LABELS, OTEL_BUCKETS)

    if naming == "otel":
        return otel(), "otel", None
    ours, doc = ["method", "route"], DURATION_DOC + ", by method and route template"
    merged = naming == "both" and metric_name(d.prefix, DURATION) == OTEL_DURATION
    if merged:
        ours += OTEL_LABELS
        doc += " (and by OpenTelemetry's labels)"
        buckets = sorted({*buckets, *OTEL_BUCKETS})
    duration = d.histogram(DURATION, doc + ".", ours, buckets)
    if naming == "lantern" or merged:
        return duration, "both" if merged else "lantern", None
    return duration, "lantern", otel()


def build(registry: CollectorRegistry = REGISTRY) -> Families:
    cfg = get_settings()
    p = cfg.metrics_namespace
    info = build_labels(cfg)
    d = _Declare(p, registry)
    check = ["check", "kind"]
    duration, duration_labels, otel_duration = _durations(d, cfg.metrics_naming, cfg.metrics_latency_buckets)
    families = Families(
        registry=registry,
        prefix=p,
        requests=d.counter(
            "http_server_requests",
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status_code"],
        ),
        duration=duration,
        duration_labels=duration_labels,
        otel_duration=otel_duration,
        # What each request cost in the database (``_cost.py``), by route: p95 queries, DB share of latency.
        request_db_queries=d.histogram(
            "http_server_request_db_queries",
            "Database queries run by one request, by route template (requests that ran one).",
            ["route"],
            QUERIES_PER_REQUEST_BUCKETS,
        ),
        request_db_duration=d.histogram(
            "http_server_request_db_duration_seconds",
            "Time one request spent in database queries, by route template (requests that ran one).",
            ["route"],
            cfg.metrics_latency_buckets,
        ),
        active=d.gauge("http_server_active_requests", "Requests being served right now.", mode="livesum"),
        exceptions=d.counter(
            "http_server_exceptions", "Unhandled exceptions raised by views, by exception type.", ["exception_type"]
        ),
        internal_errors=d.counter(
            "lantern_internal_errors", "Errors inside django-lantern itself (never raised into the request).", ["where"]
        ),
        db_duration=d.histogram(
            "django_db_query_duration_seconds",
            "Database queries (the _count) and their duration, by connection alias.",
            ["alias"],
            DB_BUCKETS,
        ),
        db_errors=d.counter("django_db_query_errors", "Database queries that raised, by connection alias.", ["alias"]),
        db_new_connections=d.counter(
            "django_db_new_connections",
            "Database connections opened by Django (with a pool: taken from it), by alias.",
            ["alias"],
        ),
        db_connection_errors=d.counter(
            "django_db_new_connection_errors",
            "Attempts to open a database connection that raised, by alias.",
            ["alias"],
        ),
        db_pools=PoolCollector(p),
        cache_operations=d.counter(
            "django_cache_operations",
            "Cache operations by cache alias, operation and result (hit, miss, ok, error).",
            ["alias", "operation", "result"],
        ),
        # livemax: only live workers, so after a reload with a new release the
        # old release's series disappear instead of lingering until restart.
        build_info=d.gauge(
            "lantern_build_info", "Always 1; the labels say what is running.", list(info), mode="livemax"
        ),
        start_time=d.gauge(
            "lantern_process_start_time_seconds",
            "Start time of the process (under gunicorn: of the most recently started live worker), Unix seconds.",
            # livemax: changes() over this series counts worker (re)starts.
            mode="livemax",
        ),
        # min, kept when a worker dies (archive.py): the oldest process whose
        # numbers the summed counters hold, i.e. when the totals started.
        server_start_time=d.gauge(
            "lantern_server_start_time_seconds",
            "Start time of the oldest process whose numbers the counters hold (under gunicorn: the first "
            "worker since the master started), Unix seconds.",
            mode="min",
        ),
        # mostrecent: the newest probe result across workers, including ones since replaced.
        readiness_up=d.gauge(
            "lantern_readiness_up",
            "1 when the last /readyz answered ready, 0 when it answered not ready.",
            mode="mostrecent",
        ),
        readiness_check_up=d.gauge(
            "lantern_readiness_check_up",
            "1 when the readiness check passed in the last /readyz, else 0.",
            check,
            mode="mostrecent",
        ),
        readiness_check_duration=d.gauge(
            "lantern_readiness_check_duration_seconds",
            "How long the readiness check took in the last /readyz.",
            check,
            mode="mostrecent",
        ),
        sentry_lost_events=d.counter(
            "lantern_sentry_lost_events",
            "Sentry events and spans sentry-sdk gave up on (full queue, network or HTTP error, rate limit), "
            "by reason and data category.",
            ["reason", "category"],
        ),
    )
    registry.register(families.db_pools)
    families.build_info.labels(**info).set(1)
    families.start_time.set(process_start())
    families.server_start_time.set(process_start())
    return families


def _unregister(counter: Counter) -> None:
    with contextlib.suppress(KeyError):
        REGISTRY.unregister(counter)


@settings_cache(teardown=_unregister)
def get_label_overflow() -> Counter:
    """``lantern_label_overflow_total``, apart from the HTTP families: a Celery
    worker builds only the task families, and their cap is counted here too."""
    cfg = get_settings()
    p = cfg.metrics_namespace
    counter = _Declare(p, REGISTRY).counter(
        "lantern_label_overflow",
        "Observations folded into the overflow label set because a family hit its cap.",
        ["family"],
    )
    # Known label values start at zero, so "no overflow" is a 0, not an absent series.
    names = [metric_name(p, name) for name in CAPPED_FAMILIES]
    if cfg.metrics_naming != "lantern":
        names.append(OTEL_DURATION)
    for name in dict.fromkeys(names):
        counter.labels(name).inc(0)
    return counter


@settings_cache(teardown=Families.unregister)
def get_families() -> Families:
    """The families of this process, built on first use and again after a settings change."""
    return build()


@dataclass
class TaskFamilies:
    """Background task (Celery) families: kept apart, since a worker builds only these."""

    tasks: Counter
    duration: Histogram
    queue_wait: Histogram
    # A task name to its label: itself, or ``<overflow>`` past the cap.
    names: CappedFamily[str]

    def unregister(self) -> None:
        for collector in (self.tasks, self.duration, self.queue_wait):
            with contextlib.suppress(KeyError):
                REGISTRY.unregister(collector)


@settings_cache(teardown=TaskFamilies.unregister)
def get_task_families() -> TaskFamilies:
    """The task families, built once per process (and again after a settings change)."""
    cfg = get_settings()
    d = _Declare(cfg.metrics_namespace, REGISTRY)
    capped = metric_name(cfg.metrics_namespace, TASK_FAMILY)
    return TaskFamilies(
        tasks=d.counter(
            TASK_FAMILY,
            "Background task runs, by task name and outcome (success, failure, retry, ignored, rejected).",
            ["task", "outcome"],
        ),
        duration=d.histogram(
            "lantern_task_duration_seconds", "Time a task run took on the worker, by task name.", ["task"], TASK_BUCKETS
        ),
        queue_wait=d.histogram(
            "lantern_task_queue_wait_seconds",
            "Time from publishing (or the ETA, if later) to the start of the run, by task name.",
            ["task"],
            TASK_BUCKETS,
        ),
        names=CappedFamily(
            lambda values: values[0], capped, 1, cfg.metrics_max_label_sets, get_label_overflow().labels(capped)
        ),
    )


MAIL_DROP_REASONS = ("rate_limited", "queue_full", "failed")


@dataclass
class LogFamilies:
    """The log-failure counters of ``logging/handlers.py`` (which also counts in
    plain integers, before settings exist and when metrics are off), the
    repeated errors folded (``logging/_folding.py``), and the admins' e-mails
    that ``reporting.ScrubbingAdminEmailHandler`` did not send."""

    dropped: Counter
    errors: Counter
    mail_dropped: Counter
    folded: Counter
    debug_overflow: Counter

    def unregister(self) -> None:
        for collector in (self.dropped, self.errors, self.mail_dropped, self.folded, self.debug_overflow):
            with contextlib.suppress(KeyError):
                REGISTRY.unregister(collector)


def _unregister_log_families(families: LogFamilies | None) -> None:
    if families is not None:
        families.unregister()


@settings_cache(teardown=_unregister_log_families)
def get_log_families() -> LogFamilies | None:
    """The log and mail counters, or None when metrics are off."""
    cfg = get_settings()
    if not cfg.metrics_enabled:
        return None
    d = _Declare(cfg.metrics_namespace, REGISTRY)
    families = LogFamilies(
        dropped=d.counter(
            "lantern_log_records_dropped", "Log records dropped because a non-blocking handler's queue was full."
        ),
        errors=d.counter("lantern_log_errors", "Log records that failed to format or write (counted, never raised)."),
        mail_dropped=d.counter(
            "lantern_mail_dropped",
            "Error e-mails to the admins not sent: rate_limited (same error within the window), "
            "queue_full (the sender is behind), failed (the send raised or timed out).",
            ["reason"],
        ),
        folded=d.counter(
            "lantern_log_records_folded",
            "Error records not written because the same error was written in full within the interval "
            "(the next full line of that error carries the count as folded).",
        ),
        debug_overflow=d.counter(
            "lantern_log_debug_records_overflow",
            "DEBUG calls held for DEBUG_ON_ERROR and let go because a request's or task run's buffer was full.",
        ),
    )
    for reason in MAIL_DROP_REASONS:  # each series at zero before anything is dropped
        families.mail_dropped.labels(reason)
    return families
