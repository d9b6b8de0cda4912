"""Records each request into the metric families, cheaply and with bounded labels.

The hot path caches each label set's child metric in a dict, so a request is
two dict look-ups and three increments. The same dict bounds cardinality:
past ``METRICS_MAX_LABEL_SETS`` distinct label sets a family folds new ones
into one overflow set and counts that it did.
"""

from __future__ import annotations

import threading
from typing import Any

from django_lantern.conf import get_settings
from django_lantern.metrics.families import Families, get_families

STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "<unmatched>"
OVERFLOW = "<overflow>"

_children: dict[tuple[Any, ...], Any] = {}
_durations: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()
_bound_to: Families | None = None


def normalise_method(method: str) -> str:
    return method if method in STANDARD_METHODS else OTHER_METHOD


def _child(cache: dict[tuple[Any, ...], Any], family: Any, name: str, labels: tuple[str, ...], fams: Families) -> Any:
    child = cache.get(labels)
    if child is not None:
        return child
    with _lock:
        child = cache.get(labels)
        if child is None:
            if len(cache) >= get_settings().metrics_max_label_sets:
                fams.label_overflow.labels(name).inc()
                overflow = (labels[0], OVERFLOW) + tuple(OVERFLOW for _ in labels[2:])
                child = cache.get(overflow)
                if child is None:
                    child = cache[overflow] = family.labels(*overflow)
                return child
            child = cache[labels] = family.labels(*labels)
    return child


def _families() -> Families:
    global _bound_to
    fams = get_families()
    if fams is not _bound_to:  # settings changed: children belong to old families
        with _lock:
            _children.clear()
            _durations.clear()
            _bound_to = fams
    return fams


def request_started() -> None:
    if get_settings().metrics_enabled:
        _families().active.inc()


def request_finished(method: str, route: str, status: int, seconds: float, *, probe: bool) -> None:
    cfg = get_settings()
    if not cfg.metrics_enabled:
        return
    fams = _families()
    fams.active.dec()
    method = normalise_method(method)
    route = route if route and route != "-" else UNMATCHED_ROUTE
    _child(_children, fams.requests, "http_server_requests", (method, route, str(status)), fams).inc()
    if probe and cfg.metrics_exclude_probes_from_latency:
        return
    _child(_durations, fams.duration, "http_server_request_duration_seconds", (method, route), fams).observe(seconds)


def exception_raised(exc_type: str) -> None:
    if get_settings().metrics_enabled:
        _families().exceptions.labels(exc_type[:100]).inc()


def internal_error(where: str) -> None:
    _families().internal_errors.labels(where).inc()
