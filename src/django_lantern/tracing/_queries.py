"""Query spans: one CLIENT span per database query, from the query-metrics execute wrapper.

Opt-in (``LANTERN["TRACING_QUERY_SPANS"] = True``) and only with tracing on.
With the setting off, connections get a wrapper that never looks at tracing;
with it on, a wrapper that calls :func:`start` first. A query gets a span only
when a *recording* span is current (the request's server span, or one you
started), so background code outside any trace does not make root spans, and
an unsampled request pays one check per query.

What the span carries follows the OpenTelemetry database conventions:
``db.system.name``, ``db.namespace``, ``db.operation.name``,
``db.query.text``, ``server.address``/``server.port``, and on failure
``error.type`` with status ERROR. Never a parameter value: the text is the
statement with its literals and comments removed and its length capped
(:mod:`django_lantern.scrubbing._sql`); parameters are not read at all, and a
failed query records its exception *type* only, since database error
messages quote the offending values.

Readiness checks never make query spans: ``/readyz`` is answered by the
middleware and its checks' ``SELECT 1`` says nothing a trace needs, so a
query inside a probe request (``RequestContext.probe_route`` set) is skipped,
as is any query on a thread with no current span (the checks' own threads).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django_lantern import tracing
from django_lantern._errors import report_internal_error
from django_lantern.context import current
from django_lantern.scrubbing._sql import operation_name, scrub_sql

# Django's vendor -> the semantic conventions' db.system.name.
SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql", "oracle": "oracle.db"}
_NAMESPACE_LIMIT = 255


class QuerySpan:
    __slots__ = ("span", "token")

    def __init__(self, span: Any, token: object) -> None:
        self.span = span
        self.token = token


class SpanBase:
    """What every query span of one connection alias shares, worked out once
    when the alias's wrapper is built (``metrics/_db.py``): the vendor, the
    connection's attributes and the ``TRACING_QUERY_MAX_LENGTH`` setting."""

    __slots__ = ("attributes", "max_length", "vendor")

    def __init__(self, connection: Any, max_length: int) -> None:
        self.vendor: str = getattr(connection, "vendor", "") or ""
        self.attributes = _connection_attributes(connection, self.vendor)
        self.max_length = max_length


def _connection_attributes(connection: Any, vendor: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"db.system.name": SYSTEMS.get(vendor, vendor or "other_sql")}
    settings_dict = getattr(connection, "settings_dict", None) or {}
    name = settings_dict.get("NAME")
    # SQLite's NAME is a file path: where the data lives, not a database name.
    if isinstance(name, str) and name and vendor != "sqlite":
        attrs["db.namespace"] = name[:_NAMESPACE_LIMIT]
    host, port = settings_dict.get("HOST"), settings_dict.get("PORT")
    if isinstance(host, str) and host and not host.startswith("/"):
        attrs["server.address"] = host[:_NAMESPACE_LIMIT]
        if str(port).isdigit():
            attrs["server.port"] = int(str(port))
    return attrs


def _attributes(base: SpanBase, sql: Any, many: bool, params: Any) -> dict[str, Any]:
    attrs = dict(base.attributes)
    if isinstance(sql, str):
        # psycopg's sql.Composed and the like are skipped: their repr may hold values.
        text = scrub_sql(sql, base.max_length, base.vendor)
        attrs["db.query.text"] = text
        operation = operation_name(text)
        if operation:
            attrs["db.operation.name"] = operation
    if many:
        # An iterator's length is unknown without consuming it: no attribute then.
        with contextlib.suppress(TypeError):
            attrs["db.operation.batch.size"] = len(params)
    return attrs


def start(base: SpanBase, sql: Any, params: Any, many: bool) -> QuerySpan | None:
    """Start the query's span as a child of the current one, or return None. Never raises."""
    try:
        tracer = tracing.state.tracer
        if tracer is None:
            return None
        ctx = current.get()
        if ctx is not None and ctx.probe_route is not None:
            return None
        from opentelemetry import context as otel_context
        from opentelemetry import trace

        parent = trace.get_current_span()
        if not parent.is_recording():
            return None
        attrs = _attributes(base, sql, many, params)
        name = attrs.get("db.operation.name") or attrs["db.system.name"]
        span = tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=attrs)
        # Current while the query runs, so driver-level instrumentation nests under it.
        token = otel_context.attach(trace.set_span_in_context(span))
        return QuerySpan(span, token)
    except Exception as exc:
        report_internal_error("query_span", exc)
        return None


def finish(query_span: QuerySpan, error_type: type[BaseException] | None) -> None:
    """End the span, with ``error.type`` when the query raised. Never raises."""
    try:
        from opentelemetry import context as otel_context
        from opentelemetry.trace import Status, StatusCode

        span = query_span.span
        try:
            if error_type is not None:
                span.set_attribute("error.type", error_type.__qualname__)
                span.set_status(Status(StatusCode.ERROR))
        finally:
            span.end()
            otel_context.detach(query_span.token)  # type: ignore[arg-type]
    except Exception as exc:
        report_internal_error("query_span", exc)
