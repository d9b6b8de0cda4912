"""Span exporters from the standard ``OTEL_*`` variables, for :func:`django_lantern.tracing.configure`.

The environment of a pod is often shared with other services and carries
``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``; start-up must not break on it. So:

- ``OTEL_TRACES_EXPORTER``: a comma-separated list; ``otlp`` (default),
  ``console`` and ``none`` are built in, and any other name is looked up in
  the SDK's ``opentelemetry_traces_exporter`` entry points (``otlp_proto_grpc``,
  or the name a Zipkin or vendor exporter package registers);
- ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, else ``OTEL_EXPORTER_OTLP_PROTOCOL``:
  ``http/protobuf`` (default) or ``grpc``; ``grpc`` needs the
  ``django-lantern[otel-grpc]`` extra, and without it start-up fails with a
  message that says so rather than an ``ImportError`` from deep inside;
  ``http/json`` has no Python exporter and is refused with that reason.

Everything is validated before anything is built, so a bad value fails
``configure()`` at once, never on the first export. The exporters read their
own endpoint, headers, certificate, timeout and compression variables.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

ENTRY_POINT_GROUP = "opentelemetry_traces_exporter"
BUILT_IN = ("otlp", "console", "none")

MISSING_HTTP = (
    "OTLP over HTTP/protobuf needs opentelemetry-exporter-otlp-proto-http, which is not installed; "
    "install it with: pip install 'django-lantern[otel]'"
)
MISSING_GRPC = (
    "{variable}=grpc needs the OTLP/gRPC exporter (opentelemetry-exporter-otlp-proto-grpc), which is not "
    "installed; install it with: pip install 'django-lantern[otel-grpc]', or set {variable}=http/protobuf "
    "(port 4318)."
)


def exporter_names() -> list[str]:
    """``OTEL_TRACES_EXPORTER`` as a list of lower-case names (default ``["otlp"]``)."""
    value = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    return [n.strip().lower() for n in value.split(",") if n.strip()]


def otlp_protocol() -> tuple[str, str]:
    """``(variable, protocol)``: the traces-specific variable wins over the general one."""
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(variable, "").strip().lower()
        if value:
            return variable, value
    return "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"


def _entry_point(name: str) -> Any:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    return found[0] if found else None


def _otlp_class() -> Any:
    variable, protocol = otlp_protocol()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ImproperlyConfigured(MISSING_GRPC.format(variable=variable)) from exc
        return OTLPSpanExporter
    if protocol == "http/protobuf":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
        except ImportError as exc:
            raise ImproperlyConfigured(MISSING_HTTP) from exc
        return HttpExporter
    hint = " (the Python SDK has no OTLP/JSON exporter)" if protocol == "http/json" else ""
    raise ImproperlyConfigured(
        f"{variable} is {os.environ.get(variable)!r}{hint}; django_lantern.tracing supports "
        "'http/protobuf' (port 4318) and 'grpc' (port 4317, extra [otel-grpc])."
    )


def _exporter_class(name: str) -> Any:
    """The class (or factory) for one exporter name; raises before anything is built."""
    if name == "otlp":
        return _otlp_class()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter
    entry = _entry_point(name)
    if entry is None:
        raise ImproperlyConfigured(
            f"OTEL_TRACES_EXPORTER names {name!r}, which is neither built in ({', '.join(BUILT_IN)}) nor an "
            f"installed {ENTRY_POINT_GROUP!r} entry point; install its exporter package or remove it."
        )
    try:
        return entry.load()
    except Exception as exc:
        raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER {name!r} could not be loaded: {exc}") from exc


def span_exporters() -> list[Any]:
    """One exporter per name in ``OTEL_TRACES_EXPORTER`` (none for ``none``)."""
    names = exporter_names()
    classes = [_exporter_class(name) for name in names if name != "none"]
    return [cls() for cls in classes]
