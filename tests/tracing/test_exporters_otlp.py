"""tracing.configure(): the SDK and OTLP/HTTP exporter from OTEL_* variables,
exporting to a local receiver on 127.0.0.1 that parses the protobuf."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from django_lantern import tracing
from tests.helpers.integrations import Recorder

pytestmark = pytest.mark.urls("tests.urls_errors")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class OtlpReceiver(Recorder):
    """Accepts ``POST /v1/traces`` and answers with an empty export response."""

    def reply(self, path: str) -> tuple[str, bytes]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        return "application/x-protobuf", ExportTraceServiceResponse().SerializeToString()

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """Every exported span with its resource attributes."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        found = []
        for path, headers, body in self.snapshot():
            assert path == "/v1/traces"
            content_type = {k.lower(): v for k, v in headers.items()}.get("content-type")
            assert content_type == "application/x-protobuf"
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    found.extend((resource, span) for span in scope_spans.spans)
        return found


@pytest.fixture
def receiver(no_proxy: None) -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    try:
        yield server
    finally:
        server.close()


def test_span_is_exported_over_otlp_http_and_read_back(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    """Done-when 4: configure() from OTEL_* variables; the span arrives at the
    local receiver as OTLP protobuf, with its route name, attributes and trace id."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "lantern-otlp-test")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{receiver.port}/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "5")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    provider = tracing.configure(set_global=False)
    try:
        response = client.get(
            "/errors/items/12/?api_key=k-secret-99", HTTP_TRACEPARENT=f"00-{TRACE_ID}-00f067aa0ba902b7-01"
        )
        assert response.status_code == 200
        assert provider.force_flush(timeout_millis=10_000)
    finally:
        tracing.disable()
        provider.shutdown()
    ((resource, span),) = receiver.spans()
    assert resource["service.name"] == "lantern-otlp-test"
    assert span.name == "GET /errors/items/<int:pk>/"
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == "00f067aa0ba902b7"
    assert span.kind == span.SPAN_KIND_SERVER
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["http.route"].string_value == "/errors/items/<int:pk>/"
    assert attrs["http.response.status_code"].int_value == 200
    assert attrs["request.id"].string_value == response.headers["X-Request-Id"]
    assert attrs["url.query"].string_value == "api_key=[redacted]"
    assert b"k-secret-99" not in b"".join(body for _, _, body in receiver.snapshot())


def test_unknown_protocol_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """A protocol no exporter speaks names the supported ones (gRPC itself works: test_otlp_grpc.py)."""
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="http/protobuf"):
        tracing.configure(set_global=False)
    assert tracing.state.tracer is None


def test_sdk_disabled_configures_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_SDK_DISABLED=true: configure() returns None and tracing stays off."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.configure(set_global=False) is None
    assert tracing.state.tracer is None


def test_no_exporter_still_traces_for_log_correlation(
    monkeypatch: pytest.MonkeyPatch, logs: Any, client: Client
) -> None:
    """OTEL_TRACES_EXPORTER=none: nothing is sent, but log lines still get trace ids."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    provider = tracing.configure(set_global=False)
    try:
        response = client.get("/errors/items/1/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
    finally:
        tracing.disable()
        provider.shutdown()
    lines = [line for line in logs.parsed() if line["request_id"] == response.headers["X-Request-Id"]]
    assert lines and all(line["trace_id"] == TRACE_ID for line in lines)
