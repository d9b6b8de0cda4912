"""Records requests, queries and cache operations into the families, cheaply and bounded.

Hot path: the middleware takes the state once per request (``request_started``
returns it and ``request_finished`` takes it back), then a frozenset test for
the method and one dict look-up finds the request's counter and histogram
children together; the label strings are built only the first time a key is
seen. Settings are read once, when the state is bound, and re-read only after
``setting_changed``. A query's children are resolved once per alias
(``db_query_series``) and kept by the query wrapper (``_db.py``).

The in-flight gauge, in a single process, is read when scraped
(``Gauge.set_function``) from a list a request appends to and pops from:
two C calls instead of two locked ``inc``/``dec`` through the client.

Multi-process mode (``PROMETHEUS_MULTIPROC_DIR``): each ``inc``/``observe``
of a child is one locked write into this process's mmap file, so a request
costs five writes (in-flight up and down, the counter, the histogram's sum
and bucket) and a query two. prometheus_client has no public way to batch
them; batching would mean writing its private ``MmapedValue`` state, so the
public calls are kept and only redundant ones are avoided (no ``labels()``
and no zeroing ``inc(0)`` on the hot paths).

Bounded: the method is normalised before anything is keyed on it (the client
chooses it), routes come from the URLconf, and each family holds at most
``METRICS_MAX_LABEL_SETS`` label sets; past that, new ones fold into one
overflow label set and ``lantern_label_overflow_total`` counts each fold.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from django_lantern import tracing
from django_lantern._caching import settings_cache
from django_lantern._cost import Cost
from django_lantern._errors import internal_error_reported
from django_lantern.conf import get_settings
from django_lantern.metrics import _exemplars as exemplars
from django_lantern.metrics._capped import CappedFamily
from django_lantern.metrics._families import DURATION, Families, get_families, get_label_overflow
from django_lantern.metrics._naming import OTEL_DURATION, metric_name, otel_labels

if TYPE_CHECKING:
    from django_lantern.health._worker import CheckResult

STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "other"
MAX_EXCEPTION_TYPE = 100

# A labelled family; ``labels()`` returns a child of the same type.
W = TypeVar("W", bound=MetricWrapperBase)

RequestKey = tuple[str, str, int, bool]


class _Pair:
    """Our histogram child and OpenTelemetry's, observed as one (``METRICS_NAMING``
    "both" under a namespace), so the hot path stays the same in every mode."""

    __slots__ = ("otel", "ours")

    def __init__(self, ours: Histogram, otel: Histogram) -> None:
        self.ours, self.otel = ours, otel

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        self.ours.observe(amount, exemplar)
        self.otel.observe(amount, exemplar)


# The counter, the latency histogram (None when the request is kept out of it), and
# the queries and DB time histograms (None for probes, which the app did not run).
RequestSeries = tuple[Counter, Histogram | _Pair | None, Histogram | None, Histogram | None]


class RecorderState:
    """Everything the hot path needs, derived once from settings and families."""

    def __init__(self, fams: Families) -> None:
        cfg = get_settings()
        self.fams = fams
        self.enabled = cfg.metrics_enabled
        self.exclude_probes = cfg.metrics_exclude_probes_from_latency
        self.exemplars = exemplars.supported()
        # One entry per request in flight (single process, metrics on; None: the gauge's own
        # inc/dec, or nothing with metrics off), tested first on the hot path.
        self.in_flight = _in_flight(fams.active) if self.exemplars and self.enabled else None
        cap = cfg.metrics_max_label_sets
        p = fams.prefix
        overflow = get_label_overflow()

        def capped(metric: W, name: str, arity: int) -> CappedFamily[W]:
            full = metric_name(p, name)
            return CappedFamily(lambda values: metric.labels(*values), full, arity, cap, overflow.labels(full))

        def readiness_pair(values: tuple[str, ...]) -> tuple[Gauge, Gauge]:
            return fams.readiness_check_up.labels(*values), fams.readiness_check_duration.labels(*values)

        self.requests: CappedFamily[Counter] = capped(fams.requests, "http_server_requests", 3)

        def otel(metric: Histogram) -> CappedFamily[Histogram]:  # never prefixed
            return CappedFamily(lambda v: metric.labels(*v), OTEL_DURATION, 4, cap, overflow.labels(OTEL_DURATION))

        # The duration family's labels: ours, OpenTelemetry's, or both (``_families._durations``).
        self.duration_labels = fams.duration_labels
        self.durations: CappedFamily[Histogram]
        if self.duration_labels == "otel":
            self.durations = otel(fams.duration)
        else:
            arity = 6 if self.duration_labels == "both" else 2
            self.durations = capped(fams.duration, DURATION, arity)
        self.otel = None if fams.otel_duration is None else otel(fams.otel_duration)
        self.db_queries: CappedFamily[Histogram] = capped(fams.request_db_queries, "http_server_request_db_queries", 1)
        self.db_time: CappedFamily[Histogram] = capped(
            fams.request_db_duration, "http_server_request_db_duration_seconds", 1
        )
        self.exceptions: CappedFamily[Counter] = capped(fams.exceptions, "http_server_exceptions", 1)
        self.db: CappedFamily[Histogram] = capped(fams.db_duration, "django_db_query_duration_seconds", 1)
        self.cache: CappedFamily[Counter] = capped(fams.cache_operations, "django_cache_operations", 3)
        # The up and duration gauges share one label set, so they share one cap.
        name = metric_name(p, "lantern_readiness_check")
        self.readiness: CappedFamily[tuple[Gauge, Gauge]] = CappedFamily(
            readiness_pair, name, 2, cap, overflow.labels(name)
        )
        self.cap = cap
        # (method, route, status, probe) -> its counter and histogram children
        # (None when the request is kept out of the histogram): one look-up per request.
        self.request_series: dict[RequestKey, RequestSeries] = {}
        # alias -> its connection children (opened, failed to open): aliases come from settings.
        self.connection_series: dict[str, tuple[Counter, Counter]] = {}

    def resolve_request(self, key: RequestKey) -> RequestSeries:
        """The slow path of ``request_finished``, for a key seen for the first time."""
        # ``route`` is ``RequestContext.route``, the log field's value (``-`` when no
        # pattern matched: one label for every such path).
        method, route, status, probe = key
        requests, durations = self.requests, self.durations
        counter = requests.fast.get(key) or requests.resolve(key, (method, route, str(status)))
        kept = key in requests.fast
        histogram: Histogram | _Pair | None = None
        if not (probe and self.exclude_probes):
            if self.duration_labels == "lantern":
                hkey: tuple[object, ...] = (method, route, probe)
                values: tuple[str, ...] = (method, route)
            else:
                hkey, otel = key, otel_labels(method, route, status)
                values = otel if self.duration_labels == "otel" else (method, route, *otel)
            histogram = ours = durations.fast.get(hkey) or durations.resolve(hkey, values)
            kept = kept and hkey in durations.fast
            if self.otel is not None:
                theirs = self.otel.fast.get(key) or self.otel.resolve(key, otel_labels(method, route, status))
                kept = kept and key in self.otel.fast
                histogram = _Pair(ours, theirs)
        queries = db_time = None
        if not probe:
            queries = self.db_queries.fast.get(route) or self.db_queries.resolve(route, (route,))
            db_time = self.db_time.fast.get(route) or self.db_time.resolve(route, (route,))
            kept = kept and route in self.db_queries.fast and route in self.db_time.fast
        series = (counter, histogram, queries, db_time)
        # A key either family folded is not kept: it comes back here each time,
        # so each fold is counted, and this dict stays within the cap.
        if kept:
            self.request_series[key] = series
        return series

    def resolve_connection(self, alias: str) -> tuple[Counter, Counter]:
        fams = self.fams
        series = (fams.db_new_connections.labels(alias), fams.db_connection_errors.labels(alias))
        # Zeroed once, so a failure ratio has both series from the first connection.
        series[1].inc(0)
        if len(self.connection_series) < self.cap:
            self.connection_series[alias] = series
        return series


# The one tracing state: its tracer is None while tracing is off (read per request, as it can
# be turned on and off at run time).
_tracing = tracing.state

# The in-flight list of each gauge: states rebuilt after a settings change share it.
_IN_FLIGHT: weakref.WeakKeyDictionary[Gauge, list[None]] = weakref.WeakKeyDictionary()


def _in_flight(gauge: Gauge) -> list[None]:
    """The list whose length ``gauge`` reports when scraped (a process's files do not see it,
    hence single-process only: ``Gauge.set_function`` is the client's public way)."""
    entries = _IN_FLIGHT.get(gauge)
    if entries is None:
        entries = _IN_FLIGHT[gauge] = []
        gauge.set_function(entries.__len__)
    return entries


@settings_cache
def _state() -> RecorderState:
    """The hot path's state, bound on first use and again after a settings change.

    Building it twice in a race is harmless: both states share the families,
    and ``metric.labels()`` returns the same child to both.
    """
    return RecorderState(get_families())


# -- HTTP ----------------------------------------------------------------------
def request_started() -> RecorderState:
    """The in-flight gauge up; returns the state for ``request_finished``, so a
    request binds it once and comes down on the gauge it went up on."""
    state = _state()
    in_flight = state.in_flight
    if in_flight is not None:
        in_flight.append(None)  # atomic, as the pop below
    elif state.enabled:
        state.fams.active.inc()
    return state


def request_finished(
    method: str,
    route: str,
    status: int,
    seconds: float,
    probe: bool,
    state: RecorderState | None = None,
    cost: Cost | None = None,
) -> None:
    """The in-flight gauge down, the request counted and timed, and its ``cost``
    (queries, DB time) by route, in one step.

    Called once per request with positional arguments: keywords cost the call more.
    """
    if state is None:
        state = _state()
    in_flight = state.in_flight
    if in_flight is not None:
        # Never below zero, whatever a caller did; one atomic step (no check-then-pop race),
        # and no ``contextlib.suppress`` object built per request.
        try:  # noqa: SIM105
            in_flight.pop()
        except IndexError:
            pass
    elif state.enabled:
        state.fams.active.dec()
    else:
        return
    if method not in STANDARD_METHODS:
        method = OTHER_METHOD
    key = (method, route, status, probe)
    # A series is never falsy: ``or`` reaches ``resolve_request`` only for a new key.
    counter, histogram, queries, db_time = state.request_series.get(key) or state.resolve_request(key)
    counter.inc()
    if histogram is not None:
        # The exemplar is looked up only while tracing is on: without a tracer there is no span.
        if _tracing.tracer is not None and state.exemplars:
            histogram.observe(seconds, exemplars.current_exemplar())
        else:
            histogram.observe(seconds)
    # Only requests that ran a query: the DB share of latency (the sum) is the same, the
    # queries-per-request quantiles are those of the requests that query (an N+1 shows
    # there, not diluted by a route's cached hits), and a request without one pays nothing.
    # ``queries`` and ``db_time`` are None together (probes).
    if cost is not None and cost.db_queries and queries is not None and db_time is not None:
        queries.observe(cost.db_queries)
        db_time.observe(cost.db_seconds)


def exception_raised(exc_type: str) -> None:
    state = _state()
    if not state.enabled:
        return
    family = state.exceptions
    counter = family.fast.get(exc_type) or family.resolve(exc_type, (exc_type[:MAX_EXCEPTION_TYPE],))
    counter.inc()


def internal_error(where: str) -> None:
    _state().fams.internal_errors.labels(where).inc()


def _on_internal_error(sender: object, where: str, **kwargs: object) -> None:
    internal_error(where)


def connect() -> None:
    """Count every internal error that ``_errors`` reports (called from ``LanternConfig.ready``)."""
    internal_error_reported.connect(_on_internal_error, dispatch_uid="django_lantern.metrics.internal_errors")


# -- readiness ----------------------------------------------------------------
def readiness_answered(results: Iterable[CheckResult], *, ready: bool | None) -> None:
    """Set the readiness gauges from a ``/readyz`` answer; health calls this.

    ``ready`` is None for a filtered answer (``?exclude=``, ``/readyz/<check>``):
    it sets the gauges of the checks that ran, never ``lantern_readiness_up``.

    Gauges set at answer time rather than by a scrape-time collector because
    under gunicorn the scrape lands on any worker, which may not be the one
    that ran the checks; the gauges' ``mostrecent`` mode gives the newest
    result of all.
    """
    state = _state()
    if not state.enabled:
        return
    if ready is not None:
        state.fams.readiness_up.set(1 if ready else 0)
    family = state.readiness
    for result in results:
        key = (result.name, result.kind)
        up, duration = family.fast.get(key) or family.resolve(key, (result.name[:100], result.kind[:32]))
        up.set(1 if result.ok else 0)
        duration.set(result.ms / 1000)


# -- database and cache -------------------------------------------------------
def db_query_series(alias: str) -> tuple[Histogram, Counter] | None:
    """The duration histogram and error counter children of one alias's queries,
    or None when metrics are off; the query wrapper resolves them once and keeps them."""
    state = _state()
    if not state.enabled:
        return None
    family = state.db
    histogram = family.fast.get(alias) or family.resolve(alias, (alias,))
    errors = state.fams.db_errors.labels(alias)
    # Zeroed with the first resolution, so error ratios have a denominator series.
    errors.inc(0)
    return histogram, errors


def db_connection(alias: str, *, failed: bool) -> None:
    """A connection opened or failed to open; aliases come from settings, so they are few."""
    state = _state()
    if not state.enabled:
        return
    opened, errors = state.connection_series.get(alias) or state.resolve_connection(alias)
    (errors if failed else opened).inc()


def cache_operation(alias: str, operation: str, result: str, amount: int = 1) -> None:
    state = _state()
    if not state.enabled or amount <= 0:
        return
    key = (alias, operation, result)
    family = state.cache
    counter = family.fast.get(key) or family.resolve(key, key)
    counter.inc(amount)
