"""OpenTelemetry for the configurations that trace: the SDK, spans recorded, exported nowhere."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from benchproj.hooks import Unavailable

# Spans handed to the exporter so far: the worker reports spans per request as a sanity check.
exported = [0]


def _provider() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class DropExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            exported[0] += len(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(DropExporter()))
    trace.set_tracer_provider(provider)
    return provider


def setup_peer_tracing() -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    _provider()
    DjangoInstrumentor().instrument()


def setup_lantern_tracing() -> None:
    """The same SDK provider as the peers get, handed to ``django_lantern.tracing.enable()``.

    ``enable(provider)`` is the package's entry point for a provider built by
    the caller; ``configure()`` would build one with an OTLP exporter instead.
    """
    if importlib.util.find_spec("django_lantern.tracing") is None:
        raise Unavailable("django_lantern.tracing does not exist yet")
    from django_lantern import tracing

    enable = getattr(tracing, "enable", None)
    if not callable(enable):
        raise Unavailable("django_lantern.tracing has no enable(tracer_provider)")
    enable(_provider())
