"""OpenTelemetry for the configurations that trace: the SDK, spans recorded, exported nowhere."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from benchproj.hooks import Unavailable

# Spans handed to the exporter so far: the worker reports spans per request as a sanity check.
exported = [0]


def _provider() -> None:
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


def setup_peer_tracing() -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    _provider()
    DjangoInstrumentor().instrument()


def setup_lantern_tracing() -> None:
    if importlib.util.find_spec("django_lantern.tracing") is None:
        raise Unavailable("django_lantern.tracing does not exist yet")
    _provider()
    from django_lantern import tracing

    # The public entry point is not settled yet; use whichever one it offers.
    for name in ("instrument", "setup", "configure", "install"):
        hook = getattr(tracing, name, None)
        if callable(hook):
            hook()
            return
    raise Unavailable("django_lantern.tracing has no instrument()/setup()/configure()/install()")
