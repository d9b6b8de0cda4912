"""REQUEST_ID_FROM_TRACE with tracing on: an untrusted peer's traceparent does not choose the request id."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.urls("tests.urls_errors")

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def test_untrusted_traceparent_continues_the_trace_but_not_the_request_id(
    tracer_provider: Any, client: Client, settings: Any
) -> None:
    """The span still joins the caller's trace, but the id (header and span attribute) is fresh per request."""
    settings.LANTERN = {**settings.LANTERN, "REQUEST_ID_FROM_TRACE": True, "TRUST_REQUEST_ID_HEADER": False}
    ids = [client.get("/errors/items/1/", HTTP_TRACEPARENT=TRACEPARENT).headers["X-Request-Id"] for _ in range(3)]
    assert TRACE_ID not in ids and len(set(ids)) == 3
    spans = tracer_provider.exporter.get_finished_spans()
    assert [format(s.context.trace_id, "032x") for s in spans] == [TRACE_ID] * 3
    assert [s.attributes["request.id"] for s in spans] == ids


def test_trace_id_the_tracer_made_is_still_the_request_id(tracer_provider: Any, client: Client, settings: Any) -> None:
    """With no incoming traceparent, the new trace's id is the request id even when no peer is trusted."""
    settings.LANTERN = {**settings.LANTERN, "REQUEST_ID_FROM_TRACE": True, "TRUST_REQUEST_ID_HEADER": False}
    rid = client.get("/errors/items/1/").headers["X-Request-Id"]
    (span,) = tracer_provider.exporter.get_finished_spans()
    assert rid == format(span.context.trace_id, "032x")


def test_trusted_fallback_header_wins_over_the_trace_id(tracer_provider: Any, client: Client, settings: Any) -> None:
    """The id is chosen once: a trusted id from a fallback header is kept (and is the
    span's ``request.id``); the trace id does not overwrite it afterwards."""
    settings.LANTERN = {
        **settings.LANTERN,
        "REQUEST_ID_FROM_TRACE": True,
        "TRUST_REQUEST_ID_HEADER": True,
        "REQUEST_ID_FALLBACK_HEADERS": ["X-Correlation-ID"],
    }
    response = client.get("/errors/items/1/", HTTP_TRACEPARENT=TRACEPARENT, HTTP_X_CORRELATION_ID="corr-42")
    assert response.headers["X-Request-Id"] == "corr-42"
    (span,) = tracer_provider.exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.attributes["request.id"] == "corr-42"


def test_trusted_traceparent_is_the_request_id_when_no_header_came(
    tracer_provider: Any, client: Client, settings: Any
) -> None:
    """From a trusted peer with no id header, the incoming trace id is the request id."""
    settings.LANTERN = {**settings.LANTERN, "REQUEST_ID_FROM_TRACE": True, "TRUST_REQUEST_ID_HEADER": True}
    response = client.get("/errors/items/1/", HTTP_TRACEPARENT=TRACEPARENT)
    assert response.headers["X-Request-Id"] == TRACE_ID
