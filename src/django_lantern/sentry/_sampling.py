"""A ``traces_sampler`` that keeps probes and ``/metrics`` out of Sentry performance.

sentry-sdk's WSGI and ASGI wrappers start a transaction before Django (and
our middleware) see the request, so the only place to decline one is the
sampler, which receives the WSGI environ or ASGI scope. Probes get 0 unless
``LANTERN["TRACE_PROBES"]``; every other request gets what the project asked
for: its own ``traces_sampler``, else the parent's decision, else
``traces_sample_rate``, as sentry-sdk would have done without us.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_lantern.tracing._exclusion import is_probe_transaction

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
