"""Query spans: opt-in CLIENT spans from the query-metrics wrapper, never carrying a value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from django_lantern.context import RequestContext, current
from django_lantern.tracing import _queries as tracing_queries
from tests.metrics.conftest import value
from tests.metrics.urls_traced import SECRET_LITERAL, SECRET_PARAM

pytestmark = [pytest.mark.urls("tests.metrics.urls_traced"), pytest.mark.django_db]

ON = {"TRACING_QUERY_SPANS": True}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def by_kind(spans: Any) -> tuple[Any, list[Any]]:
    (server,) = [s for s in spans if s.kind.name == "SERVER"]
    return server, [s for s in spans if s.kind.name == "CLIENT"]


def everything(spans: Any) -> str:
    """All names, attributes and events of the spans, as one string to search."""
    return json.dumps(
        [[s.name, dict(s.attributes), [(e.name, dict(e.attributes)) for e in s.events]] for s in spans], default=str
    )


def test_each_query_is_a_child_span_without_values(traced: Any, client: Client) -> None:
    """Four queries, four CLIENT children of the server span; literals scrubbed, parameters never read."""
    with override_settings(LANTERN=ON):
        assert client.get("/traced/queries/").status_code == 200
        # The metrics wrapper still counted every query (read before leaving resets the families).
        assert value("django_db_query_duration_seconds_count", {"alias": "default"}) >= 4
    server, queries = by_kind(traced.spans())
    assert len(queries) == 4
    assert all(q.parent.span_id == server.context.span_id for q in queries)
    texts = [q.attributes["db.query.text"] for q in queries]
    assert "SELECT ? AS token, ? AS pin" in texts
    assert "SELECT %s" in texts
    assert [q.name for q in queries] == ["SELECT", "SELECT", "CREATE", "INSERT"]
    system = {"postgresql": "postgresql", "sqlite": "sqlite"}[connection.vendor]
    assert {q.attributes["db.system.name"] for q in queries} == {system}
    (batch,) = [q for q in queries if q.name == "INSERT"]
    assert batch.attributes["db.operation.batch.size"] == 3
    dump = everything(traced.spans())
    for secret in (SECRET_LITERAL, SECRET_PARAM, "7321"):
        assert secret not in dump


def test_off_by_default(traced: Any, client: Client) -> None:
    """Without TRACING_QUERY_SPANS only the server span is made."""
    client.get("/traced/queries/")
    _, queries = by_kind(traced.spans())
    assert queries == []


def test_failed_query_records_its_type_not_its_message(traced: Any, client: Client) -> None:
    """A query that raises: error.type and status ERROR, and no message (it would quote values)."""
    with override_settings(LANTERN=ON):
        assert client.get("/traced/failing-query/").status_code == 200
    _, queries = by_kind(traced.spans())
    (failed,) = [q for q in queries if "no_such_table_lantern" in q.attributes["db.query.text"]]
    assert failed.status.status_code.name == "ERROR"
    assert failed.attributes["error.type"] in ("OperationalError", "ProgrammingError")
    assert failed.attributes["db.query.text"] == "SELECT * FROM no_such_table_lantern WHERE v = ?"
    assert SECRET_LITERAL not in everything(traced.spans())


def test_long_statement_is_capped(traced: Any, client: Client) -> None:
    """TRACING_QUERY_MAX_LENGTH caps the text; a literal cut by the cap is still removed."""
    with override_settings(LANTERN={**ON, "TRACING_QUERY_MAX_LENGTH": 64}):
        client.get("/traced/queries/", HTTP_TRACEPARENT=TRACEPARENT)
    _, queries = by_kind(traced.spans())
    assert all(len(q.attributes["db.query.text"]) <= 64 for q in queries)


def test_unsampled_request_makes_no_query_spans(traced: Any, client: Client) -> None:
    """A non-recording server span: queries cost one check and make nothing."""
    with override_settings(LANTERN=ON):
        client.get("/traced/queries/", HTTP_TRACEPARENT=TRACEPARENT[:-2] + "00")
    assert traced.spans() == ()


def test_no_span_outside_a_trace(traced: Any) -> None:
    """Code outside any span (a management command, a thread) makes no root query spans."""
    with override_settings(LANTERN=ON), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert traced.spans() == ()


def test_probe_requests_make_no_query_spans(traced: Any) -> None:
    """A query inside a probe's request context is skipped even under a recording span."""
    tracer = traced.get_tracer("test")
    ctx = RequestContext("rid", "GET", "/readyz", None)
    ctx.probe_route = "/readyz"
    token = current.set(ctx)
    try:
        with override_settings(LANTERN=ON), tracer.start_as_current_span("probe"), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        current.reset(token)
    assert [s.name for s in traced.spans()] == ["probe"]


def test_readyz_makes_no_query_spans(traced: Any, client: Client) -> None:
    """/readyz runs real database checks; none of them becomes a span."""
    # A generous timeout: the check must really run its query, even on a loaded machine.
    with override_settings(LANTERN={**ON, "READINESS_TIMEOUT": 10.0}):
        assert client.get("/readyz").status_code == 200
    assert [s for s in traced.spans() if s.kind.name == "CLIENT"] == []


def test_span_wrapper_only_with_query_spans_on(traced: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans off: the connection's wrapper never calls into tracing; on: it starts a span per query."""
    calls: list[str] = []
    real = tracing_queries.start

    def start(base: Any, sql: Any, params: Any, many: bool) -> Any:
        calls.append(sql)
        return real(base, sql, params, many)

    monkeypatch.setattr(tracing_queries, "start", start)
    tracer = traced.get_tracer("test")
    with tracer.start_as_current_span("work"), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert calls == []
    with override_settings(LANTERN=ON), tracer.start_as_current_span("work"), connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert value("django_db_query_duration_seconds_count", {"alias": "default"}) >= 1
    assert calls == ["SELECT 2"]
    assert [s.name for s in traced.spans() if s.kind.name == "CLIENT"] == ["SELECT"]
    with tracer.start_as_current_span("work"), connection.cursor() as cursor:
        cursor.execute("SELECT 3")
    assert calls == ["SELECT 2"]  # off again once the override ends


def test_spans_without_metrics(traced: Any) -> None:
    """METRICS_ENABLED off and query spans on: the span wrapper alone, no observation."""
    tracer = traced.get_tracer("test")
    with override_settings(LANTERN={**ON, "METRICS_ENABLED": False}):
        with tracer.start_as_current_span("work"), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert value("django_db_query_duration_seconds_count", {"alias": "default"}) == 0
    assert [s.name for s in traced.spans() if s.kind.name == "CLIENT"] == ["SELECT"]
