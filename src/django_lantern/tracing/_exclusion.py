"""Which requests get no server span and no Sentry transaction.

Probes are the busiest and least interesting routes: one per pod every few
seconds, always the same answer. Traced, they crowded real requests out of
the span exporter's and sentry-sdk's bounded queues (1,000 probes at
``traces_sample_rate=1.0`` made sentry-sdk drop 852 transactions and 2,556
spans). So by default:

- ``/healthz``, ``/readyz`` (``/readyz/<check>`` too) and ``/metrics``
  (``LANTERN`` paths, with and without the slash; the one rule in
  ``http/_probes.py``) start no server span and no Sentry transaction;
  ``LANTERN["TRACE_PROBES"] = True`` traces them again;
- ``OTEL_PYTHON_DJANGO_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``),
  comma-separated regular expressions searched in the URL without its query
  string, as OpenTelemetry's own Django instrumentation reads them, keeps
  matching requests out of the server span.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

from django_lantern._errors import report_internal_error
from django_lantern.http._probes import untraced_probe

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings

ENV_VARS = ("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")
_HOST_LIMIT = 255


def excluded_urls_from_env(environ: Mapping[str, str] = os.environ) -> re.Pattern[str] | None:
    """The compiled ``OTEL_PYTHON_DJANGO_EXCLUDED_URLS`` (or the generic variable), or None.

    Read once, when tracing is enabled. An invalid expression raises
    ``ImproperlyConfigured`` naming the variable, rather than tracing
    everything it was meant to exclude.
    """
    for name in ENV_VARS:
        raw = environ.get(name)
        if raw is None:
            continue
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if not parts:
            return None
        try:
            return re.compile("|".join(f"(?:{p})" for p in parts))
        except re.error as exc:
            raise ImproperlyConfigured(
                f"{name} is {raw!r}, which holds an invalid regular expression ({exc}); "
                "give comma-separated regular expressions such as 'healthz,/static/'."
            ) from exc
    return None


def request_url(request: HttpRequest) -> str:
    """``scheme://host/path`` from ``META``, without the query and without
    ``get_host()``, whose ``ALLOWED_HOSTS`` check must not run this early."""
    meta = request.META
    host = meta.get("HTTP_HOST") or meta.get("SERVER_NAME") or ""
    return f"{request.scheme or 'http'}://{str(host)[:_HOST_LIMIT]}{request.path}"


def wants_server_span(request: HttpRequest, cfg: LanternSettings, excluded: re.Pattern[str] | None) -> bool:
    """False for probes (unless ``TRACE_PROBES``) and for excluded URLs."""
    if untraced_probe(request.path_info, cfg):
        return False
    if excluded is None:
        return True
    try:
        return excluded.search(request_url(request)) is None
    except Exception as exc:  # e.g. a misconfigured SECURE_PROXY_SSL_HEADER behind request.scheme
        report_internal_error("tracing_exclusion", exc)
        return True
