"""W3C Trace Context on the way in: ``traceparent``/``tracestate`` validated more
strictly than the OpenTelemetry propagator.

Plain parsing, no OpenTelemetry: the request id reads the incoming trace id
from here with tracing off. ``tracing._propagation`` hands the validated
headers to the propagators.
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
