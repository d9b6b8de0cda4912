"""Trace the worker with an exporter that appends each finished span to a file."""

from __future__ import annotations

import json
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from django_lantern import tracing


class FileSpanExporter(SpanExporter):
    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                context = span.get_span_context()
                record = {
                    "name": span.name,
                    "kind": span.kind.name,
                    "trace_id": format(context.trace_id, "032x") if context else "",
                    "span_id": format(context.span_id, "016x") if context else "",
                    "status": span.status.status_code.name,
                    "links": [
                        {
                            "trace_id": format(link.context.trace_id, "032x"),
                            "span_id": format(link.context.span_id, "016x"),
                        }
                        for link in span.links
                    ],
                }
                out.write(json.dumps(record) + "\n")
        return SpanExportResult.SUCCESS


def trace_to_file(path: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(path)))
    tracing.enable(provider)
