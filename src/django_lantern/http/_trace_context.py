"""W3C Trace Context on the way in: ``traceparent``/``tracestate`` validated more
strictly than the OpenTelemetry propagator, and the parent context extracted.

No OpenTelemetry import at module level: ``request_id`` reads the incoming
trace id from here with tracing off, and must not need the SDK.
"""

from __future__ import annotations

import re
from typing import Any

# W3C Trace Context, level 1 and 2. Lowercase hex only: "uppercase MUST be
# treated as invalid" would otherwise let two spellings of one id through.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
TRACESTATE_MAX_LENGTH = 512
TRACESTATE_MAX_MEMBERS = 32
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def parse_traceparent(value: str) -> tuple[int, int, int] | None:
    """``(trace_id, parent_span_id, flags)`` of a valid ``traceparent``, else None."""
    value = value.strip(" \t")
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    if version == "00":
        if len(value) != 55:
            return None
    elif len(value) > 55 and value[55] != "-":
        # A later version may append fields, always after a "-".
        return None
    return int(trace_id, 16), int(span_id, 16), int(flags, 16)


def tracestate_ok(value: str | None) -> bool:
    """False for a ``tracestate`` beyond the W3C limits (512 chars, 32 members)."""
    if value is None:
        return True
    if len(value) > TRACESTATE_MAX_LENGTH:
        return False
    members = [m for m in value.split(",") if m.strip(" \t")]
    return len(members) <= TRACESTATE_MAX_MEMBERS


def incoming_trace_id(meta: dict[str, Any]) -> str | None:
    """The trace id of a valid incoming ``traceparent``, as 32 hex digits."""
    header = meta.get("HTTP_TRACEPARENT")
    if not isinstance(header, str) or not tracestate_ok(meta.get("HTTP_TRACESTATE")):
        return None
    parsed = parse_traceparent(header)
    return None if parsed is None else format(parsed[0], "032x")


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
    from opentelemetry import propagate

    header = meta.get("HTTP_TRACEPARENT")
    valid = header is None or (
        isinstance(header, str) and parse_traceparent(header) is not None and tracestate_ok(meta.get("HTTP_TRACESTATE"))
    )
    # The configured propagators still run (baggage, B3, ...); only a
    # traceparent/tracestate pair that failed validation is hidden from them.
    from opentelemetry.context import Context

    return propagate.extract(meta, context=Context(), getter=_ACCEPT_ALL if valid else _HIDE_TRACE_CONTEXT)  # type: ignore[arg-type]
