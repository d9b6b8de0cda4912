"""django_lantern.tracing._exporters: which exporter the standard OTEL_* variables select."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_lantern.tracing import _exporters as tracing_exporters

VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _kinds() -> list[str]:
    exporters = tracing_exporters.span_exporters()
    try:
        return [f"{type(e).__module__}.{type(e).__name__}" for e in exporters]
    finally:
        for exporter in exporters:
            exporter.shutdown()


HTTP = "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter"
GRPC = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter"
CONSOLE = "opentelemetry.sdk.trace.export.ConsoleSpanExporter"


def test_default_is_otlp_over_http() -> None:
    """Nothing set: one OTLP/HTTP exporter."""
    assert _kinds() == [HTTP]


def test_grpc_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc selects the gRPC exporter (case and spaces forgiven)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", " GRPC ")
    assert _kinds() == [GRPC]


def test_traces_protocol_wins_over_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-signal variable overrides the general one, as the specification says."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    assert _kinds() == [HTTP]


def test_http_json_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """http/json is standard but has no Python exporter: the message says so and names the choices."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
    with pytest.raises(ImproperlyConfigured, match="no OTLP/JSON exporter") as caught:
        tracing_exporters.span_exporters()
    assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" in str(caught.value) and "'grpc'" in str(caught.value)


def test_several_exporters_and_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A list builds each; none builds nothing (ids in logs, nothing exported)."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console, otlp")
    assert _kinds() == [CONSOLE, HTTP]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert _kinds() == []


def test_entry_point_names_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names registered by exporter packages (the SDK's entry points) work too."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp_proto_grpc")
    assert _kinds() == [GRPC]


def test_unknown_exporter_fails_before_anything_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown name is refused with what is available, even after a valid one."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp,jaegerish")
    with pytest.raises(ImproperlyConfigured, match=r"'jaegerish'.*opentelemetry_traces_exporter"):
        tracing_exporters.span_exporters()
