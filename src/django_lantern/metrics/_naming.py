"""Metric names with the namespace, the labels of ``lantern_build_info``, and
the OpenTelemetry HTTP server metric's name and labels (``METRICS_NAMING``).

The families themselves are all in :mod:`django_lantern.metrics._families`.
"""

from __future__ import annotations

import platform

import django

from django_lantern import __version__
from django_lantern._release import identity
from django_lantern.conf import LanternSettings
from django_lantern.context import UNKNOWN, UNKNOWN_LABEL

# Label values that come from configuration or the environment, not from
# clients, are still clipped: a 10 kB release string is a mistake, not a label.
MAX_INFO_LABEL = 128


# ``http.server.request.duration`` (stable) as an OpenTelemetry Prometheus
# exporter writes it: dots become underscores, the unit ``s`` a ``_seconds``
# suffix. Never prefixed: dashboards built for OpenTelemetry look for this name.
OTEL_DURATION = "http_server_request_duration_seconds"
OTEL_LABELS = ("http_request_method", "http_route", "http_response_status_code", "error_type")
# The semantic conventions' advisory bucket boundaries, in seconds.
OTEL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# The methods the conventions know; any other is ``_OTHER``, so a client cannot add series.
OTEL_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})


def otel_labels(method: str, route: str, status: int) -> tuple[str, str, str, str]:
    """The OpenTelemetry label values of one request, from the recorder's own key.

    ``http_route`` is empty (absent, to Prometheus) when no URL pattern matched:
    the conventions forbid a path there, and ours is ``-`` then. ``error_type``
    is the status code for a 5xx (Django has answered a view's exception with a
    500 by then, and the conventions allow the code), else empty.
    """
    return (
        method if method in OTEL_METHODS else "_OTHER",
        "" if route == UNKNOWN else route,
        str(status),
        str(status) if status >= 500 else "",
    )


def metric_name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}" if prefix else name


def _info_value(value: object) -> str:
    if not isinstance(value, str) or not value:
        return UNKNOWN_LABEL
    return value[:MAX_INFO_LABEL]


def build_labels(cfg: LanternSettings) -> dict[str, str]:
    """``release`` and ``environment``: the process's identity (``_release``), the
    values every other sink uses, so a deploy is named the same everywhere."""
    found = identity()
    release, environment = found.release, found.environment
    return {
        "version": __version__,
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
        "release": _info_value(release),
        "environment": _info_value(environment),
    }
