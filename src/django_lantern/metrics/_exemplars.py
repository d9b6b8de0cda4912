"""Exemplars: the trace behind a latency bucket, so a dashboard jumps from a slow bucket to a trace.

With tracing on, each latency observation carries the ids of the request's
server span when that span is sampled (an unsampled trace was never
exported, so linking to it would lead nowhere). ``prometheus_client`` keeps
the latest exemplar per bucket and shows it only in the OpenMetrics
exposition (``Accept: application/openmetrics-text``, what Prometheus sends
when exemplar storage is on).

Not under the client's multi-process mode: its file-backed values drop
exemplars (``set_exemplar`` is a no-op there), so the recorder does not even
look them up when ``PROMETHEUS_MULTIPROC_DIR`` is set.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from django_lantern import tracing

# OpenMetrics caps an exemplar's label set at 128 UTF-8 characters:
# trace_id (8 + 32) and span_id (7 + 16) come to 63.
TRACE_ID = "trace_id"
SPAN_ID = "span_id"


def supported() -> bool:
    """False under the multi-process mode, which cannot store exemplars."""
    return not os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def current_exemplar() -> dict[str, str] | None:
    """``{"trace_id": ..., "span_id": ...}`` of the current sampled span, else None.

    One attribute check when tracing is off.
    """
    if tracing.state.tracer is None:
        return None
    span_context = _span_getter()().get_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    return {TRACE_ID: format(span_context.trace_id, "032x"), SPAN_ID: format(span_context.span_id, "016x")}


@functools.cache
def _span_getter() -> Callable[[], Any]:
    # OpenTelemetry is an optional extra, imported once tracing is on; looked up
    # once rather than by an import statement per observation.
    from opentelemetry.trace import get_current_span

    return get_current_span
