"""The incoming request's parent context for the server span, through the configured propagators.

``traceparent``/``tracestate`` are validated by ``http._trace_context`` (more
strictly than the OpenTelemetry propagator) before any propagator sees them.
"""

from __future__ import annotations

from typing import Any

from django_lantern.http._trace_context import parse_traceparent, tracestate_ok


class _MetaGetter:
    """Reads propagation headers from ``request.META``, hiding rejected ones."""

    def __init__(self, hidden: frozenset[str]) -> None:
        self.hidden = hidden

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        if key.lower() in self.hidden:
            return None
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_ACCEPT_ALL = _MetaGetter(frozenset())
_HIDE_TRACE_CONTEXT = _MetaGetter(frozenset({"traceparent", "tracestate"}))


def parent_context(meta: dict[str, Any]) -> Any:
    """The OpenTelemetry parent context of an incoming request, its trace headers validated first."""
    from opentelemetry import propagate

    header = meta.get("HTTP_TRACEPARENT")
    valid = header is None or (
        isinstance(header, str) and parse_traceparent(header) is not None and tracestate_ok(meta.get("HTTP_TRACESTATE"))
    )
    # The configured propagators still run (baggage, B3, ...); only a
    # traceparent/tracestate pair that failed validation is hidden from them.
    from opentelemetry.context import Context

    return propagate.extract(meta, context=Context(), getter=_ACCEPT_ALL if valid else _HIDE_TRACE_CONTEXT)  # type: ignore[arg-type]
