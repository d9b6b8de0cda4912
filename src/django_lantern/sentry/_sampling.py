"""A ``traces_sampler`` that keeps probes and ``/metrics`` out of Sentry performance.

sentry-sdk's WSGI and ASGI wrappers start a transaction before Django (and
our middleware) see the request, so the only place to decline one is the
sampler, which receives the WSGI environ or ASGI scope. Probes get 0 unless
``LANTERN["TRACE_PROBES"]``; every other request gets what the project asked
for: its own ``traces_sampler``, else the parent's decision, else
``traces_sample_rate``, as sentry-sdk would have done without us.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django_lantern.conf import get_settings
from django_lantern.http._probes import scope_path_info, untraced_probe


def _sampling_path(sampling_context: Mapping[str, Any]) -> str | None:
    """The request path (``path_info``) sentry-sdk's WSGI or ASGI wrapper is about to trace."""
    environ = sampling_context.get("wsgi_environ")
    if isinstance(environ, Mapping):
        path = environ.get("PATH_INFO")
        return path if isinstance(path, str) else None
    scope = sampling_context.get("asgi_scope")
    return scope_path_info(scope) if isinstance(scope, Mapping) else None


def is_probe_transaction(sampling_context: Mapping[str, Any]) -> bool:
    """True when a Sentry transaction about to start is for a probe (``http/_probes.py``)."""
    path = _sampling_path(sampling_context)
    if path is None:
        return False
    try:
        return untraced_probe(path, get_settings())
    except Exception:
        # Settings unreadable (reported by lantern.E002): trace as usual.
        return False


Sampler = Callable[[dict[str, Any]], "float | bool"]


def make_traces_sampler(user_sampler: Sampler | None = None, rate: float | None = None) -> Sampler:
    def traces_sampler(sampling_context: dict[str, Any]) -> float | bool:
        if is_probe_transaction(sampling_context):
            return 0.0
        if user_sampler is not None:
            return user_sampler(sampling_context)
        parent = sampling_context.get("parent_sampled")
        if parent is not None:
            return bool(parent)
        return rate if rate is not None else 0.0

    return traces_sampler


def with_probe_sampling(options: dict[str, Any]) -> None:
    """Install the sampler in ``sentry_sdk.init`` ``options`` when performance is on."""
    user_sampler = options.get("traces_sampler")
    rate = options.get("traces_sample_rate")
    if rate is None and options.get("enable_tracing"):
        rate = 1.0  # what sentry-sdk does for the deprecated flag
    if user_sampler is None and rate is None:
        return  # performance off: leave it off
    options["traces_sampler"] = make_traces_sampler(user_sampler, rate)
