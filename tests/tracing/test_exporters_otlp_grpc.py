"""OTLP over gRPC: OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports to a real gRPC TraceService on 127.0.0.1.

The receiver is a minimal collector: grpcio's server with the TraceService
implemented on opentelemetry-proto's generated classes.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from django_lantern import tracing

pytestmark = pytest.mark.urls("tests.urls_errors")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
GRPC_MODULE = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"


class GrpcCollector:
    """``TraceService.Export`` on 127.0.0.1: keeps each request and its metadata."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        received: list[tuple[Any, dict[str, str]]] = []
        lock = threading.Lock()

        class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                with lock:
                    received.append((request, dict(context.invocation_metadata())))
                return trace_service_pb2.ExportTraceServiceResponse()

        self.received = received
        self._lock = lock
        self.server = grpc.server(ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def spans(self) -> list[tuple[dict[str, str], dict[str, Any], Any]]:
        """``(metadata, resource attributes, span)`` for every exported span."""
        found = []
        with self._lock:
            for request, metadata in self.received:
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        found.extend((metadata, resource, span) for span in scope_spans.spans)
        return found

    def close(self) -> None:
        self.server.stop(grace=None).wait(10)


@pytest.fixture
def collector(no_proxy: None) -> Iterator[GrpcCollector]:
    server = GrpcCollector()
    try:
        yield server
    finally:
        server.close()


def _clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)


def test_grpc_protocol_exports_to_a_grpc_collector(
    collector: GrpcCollector, monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    """The variable often injected into every pod: spans arrive over gRPC with headers and resource."""
    _clean_otel_env(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "5")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "lantern-grpc-test")
    provider = tracing.configure(set_global=False)
    try:
        response = client.get("/errors/items/7/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
        assert response.status_code == 200
        assert provider.force_flush(timeout_millis=10_000)
    finally:
        tracing.disable()
        provider.shutdown()
    ((metadata, resource, span),) = collector.spans()
    assert metadata["x-tenant"] == "acme"
    assert resource["service.name"] == "lantern-grpc-test"
    assert span.name == "GET /errors/items/<int:pk>/"
    assert span.trace_id.hex() == TRACE_ID
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["request.id"].string_value == response.headers["X-Request-Id"]


def test_grpc_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the gRPC exporter installed, start-up fails with the extra to install, and tracing stays off."""
    _clean_otel_env(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setitem(sys.modules, GRPC_MODULE, None)  # what an absent package looks like to import
    with pytest.raises(ImproperlyConfigured, match=r"pip install 'django-lantern\[otel-grpc\]'"):
        tracing.configure(set_global=False)
    assert tracing.state.tracer is None
