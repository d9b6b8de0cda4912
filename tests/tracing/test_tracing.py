"""django_lantern.tracing: the middleware's server span, with the OTel SDK and an in-memory exporter."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from django.test import AsyncClient, Client

from django_lantern import tracing
from django_lantern.http._trace_context import parse_traceparent, tracestate_ok

pytestmark = pytest.mark.urls("tests.urls_errors")

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
VALID = f"00-{TRACE_ID}-{PARENT_ID}-01"

MALFORMED = {
    "all-zero trace id": f"00-{'0' * 32}-{PARENT_ID}-01",
    "all-zero parent id": f"00-{TRACE_ID}-{'0' * 16}-01",
    "short trace id": f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",
    "long trace id": f"00-{TRACE_ID}a-{PARENT_ID}-01",
    "short parent id": f"00-{TRACE_ID}-{PARENT_ID[:-1]}-01",
    "version ff": f"ff-{TRACE_ID}-{PARENT_ID}-01",
    "version not hex": f"0g-{TRACE_ID}-{PARENT_ID}-01",
    "version 00 with extra field": f"{VALID}-extra",
    "uppercase hex": f"00-{TRACE_ID.upper()}-{PARENT_ID.upper()}-01",
    "two headers joined": f"{VALID},{VALID}",
    "garbage": "hello",
    "empty": "",
}
OVERSIZE_TRACESTATE = {
    "over 512 chars": "vendor=" + "a" * 510,
    "over 32 members": ",".join(f"v{i}=x" for i in range(33)),
}


def spans(provider: Any) -> list[Any]:
    return list(provider.exporter.get_finished_spans())


def request_lines(logs: Any, request_id: str) -> list[dict[str, Any]]:
    return [line for line in logs.parsed() if line["request_id"] == request_id]


def test_valid_traceparent_is_continued_in_logs_and_span(tracer_provider: Any, logs: Any, client: Client) -> None:
    """Done-when 3: the span and every log line of the request carry the incoming trace id."""
    response = client.get("/errors/items/5/", HTTP_TRACEPARENT=VALID)
    assert response.status_code == 200
    (span,) = spans(tracer_provider)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_ID and span.parent.is_remote
    lines = request_lines(logs, response.headers["X-Request-Id"])
    assert {line["logger"] for line in lines} >= {"tests.errors.views", "access"}
    for line in lines:
        assert line["trace_id"] == TRACE_ID
        assert line["span_id"] == format(span.context.span_id, "016x")


def test_next_request_on_the_same_worker_does_not_inherit_the_trace(
    tracer_provider: Any, logs: Any, client: Client
) -> None:
    """Done-when 3: after a traced request, one without traceparent starts a fresh trace."""
    client.get("/errors/items/1/", HTTP_TRACEPARENT=VALID)
    second = client.get("/errors/items/2/")
    first_span, second_span = spans(tracer_provider)
    assert format(first_span.context.trace_id, "032x") == TRACE_ID
    assert format(second_span.context.trace_id, "032x") != TRACE_ID
    assert second_span.parent is None
    for line in request_lines(logs, second.headers["X-Request-Id"]):
        assert line["trace_id"] == format(second_span.context.trace_id, "032x") != TRACE_ID


@pytest.mark.parametrize("header", MALFORMED.values(), ids=MALFORMED.keys())
def test_each_malformed_traceparent_starts_a_new_trace(
    header: str, tracer_provider: Any, logs: Any, client: Client
) -> None:
    """Done-when 3: a malformed traceparent is ignored and a new root span started."""
    response = client.get("/errors/items/3/", HTTP_TRACEPARENT=header)
    assert response.status_code == 200
    (span,) = spans(tracer_provider)
    assert span.parent is None
    trace_id = format(span.context.trace_id, "032x")
    assert trace_id != TRACE_ID and trace_id.upper() != TRACE_ID.upper()
    assert all(line["trace_id"] == trace_id for line in request_lines(logs, response.headers["X-Request-Id"]))


@pytest.mark.parametrize("tracestate", OVERSIZE_TRACESTATE.values(), ids=OVERSIZE_TRACESTATE.keys())
def test_oversize_tracestate_starts_a_new_trace(tracestate: str, tracer_provider: Any, client: Client) -> None:
    """A tracestate over the W3C limits discards the incoming context with it."""
    client.get("/errors/items/3/", HTTP_TRACEPARENT=VALID, HTTP_TRACESTATE=tracestate)
    (span,) = spans(tracer_provider)
    assert span.parent is None and format(span.context.trace_id, "032x") != TRACE_ID


def test_a_later_version_with_more_fields_is_accepted(tracer_provider: Any, client: Client) -> None:
    """Version 01+ may append fields after a dash; the known prefix is used."""
    client.get("/errors/items/3/", HTTP_TRACEPARENT=f"01-{TRACE_ID}-{PARENT_ID}-01-future", HTTP_TRACESTATE="a=1,b=2")
    (span,) = spans(tracer_provider)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert dict(span.context.trace_state) == {"a": "1", "b": "2"}


def test_span_is_named_by_route_and_has_http_attributes(tracer_provider: Any, client: Client) -> None:
    """``GET /errors/items/<int:pk>/``, SERVER kind, semconv attributes, request id, scrubbed query."""
    from opentelemetry.trace import SpanKind, StatusCode

    response = client.get(
        "/errors/items/9/?token=tok-secret-123&page=2", HTTP_USER_AGENT="probe/1.0", HTTP_HOST="testserver:8443"
    )
    (span,) = spans(tracer_provider)
    assert span.name == "GET /errors/items/<int:pk>/"
    assert span.kind is SpanKind.SERVER
    attrs = dict(span.attributes)
    assert attrs["http.request.method"] == "GET"
    assert attrs["http.route"] == "/errors/items/<int:pk>/"
    assert attrs["http.response.status_code"] == 200
    assert attrs["url.path"] == "/errors/items/9/"
    assert attrs["url.query"] == "token=[redacted]&page=2"
    assert attrs["server.address"] == "testserver" and attrs["server.port"] == 8443
    assert attrs["user_agent.original"] == "probe/1.0"
    assert attrs["request.id"] == response.headers["X-Request-Id"]
    assert span.status.status_code is StatusCode.UNSET
    assert "tok-secret-123" not in json.dumps(attrs)


def test_view_exception_is_recorded_scrubbed(tracer_provider: Any, client: Client) -> None:
    """A view that raises: ERROR status, error.type, an exception event without the secret."""
    from opentelemetry.trace import StatusCode

    client.raise_request_exception = False
    assert client.get("/errors/fail/").status_code == 500
    (span,) = spans(tracer_provider)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "RuntimeError"
    assert "password=[redacted]" in event.attributes["exception.message"]
    assert "hunter2-secret" not in event.attributes["exception.stacktrace"]


def test_unknown_method_is_bounded(tracer_provider: Any, client: Client) -> None:
    """A made-up method becomes ``_OTHER`` (semconv), the span is named ``HTTP <route>``."""
    client.generic("FROBNICATE", "/errors/items/4/")
    (span,) = spans(tracer_provider)
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "FROBNICATE"
    assert span.name == "HTTP /errors/items/<int:pk>/"


async def test_async_view_gets_the_same_span_and_ids(
    tracer_provider: Any, logs: Any, async_client: AsyncClient
) -> None:
    """Under ASGI the span is started by the middleware's async path, with the same correlation."""
    response = await async_client.get("/errors/aitems/8/", headers={"traceparent": VALID})
    assert response.status_code == 200
    (span,) = spans(tracer_provider)
    assert span.name == "GET /errors/aitems/<int:pk>/"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    lines = request_lines(logs, response.headers["X-Request-Id"])
    assert any(line["logger"] == "tests.errors.views" for line in lines)
    assert all(line["trace_id"] == TRACE_ID for line in lines)


async def test_async_exception_is_recorded(tracer_provider: Any, async_client: AsyncClient) -> None:
    """An async view that raises gives an ERROR span too."""
    from opentelemetry.trace import StatusCode

    async_client.raise_request_exception = False
    response = await async_client.get("/errors/afail/")
    assert response.status_code == 500
    (span,) = spans(tracer_provider)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RuntimeError"


def test_unsampled_requests_still_carry_ids_in_logs(logs: Any, client: Client) -> None:
    """Sampled or not, log lines get zero-padded trace and span ids."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider = TracerProvider(sampler=ALWAYS_OFF)
    tracing.enable(provider)
    try:
        response = client.get("/errors/items/6/")
    finally:
        tracing.disable()
        provider.shutdown()
    lines = request_lines(logs, response.headers["X-Request-Id"])
    assert lines
    for line in lines:
        assert len(line["trace_id"]) == 32 and line["trace_id"] != "0" * 32
        assert len(line["span_id"]) == 16


def test_request_id_falls_back_to_the_trace_id(tracer_provider: Any, client: Client, settings: Any) -> None:
    """REQUEST_ID_FROM_TRACE: no X-Request-Id in, the trace id is the request id;
    a valid incoming X-Request-Id still wins."""
    settings.LANTERN = {**settings.LANTERN, "REQUEST_ID_FROM_TRACE": True}
    plain = client.get("/errors/items/1/", HTTP_TRACEPARENT=VALID)
    assert plain.headers["X-Request-Id"] == TRACE_ID
    given = client.get("/errors/items/1/", HTTP_TRACEPARENT=VALID, HTTP_X_REQUEST_ID="from-the-edge-1")
    assert given.headers["X-Request-Id"] == "from-the-edge-1"
    first, second = spans(tracer_provider)
    assert first.attributes["request.id"] == TRACE_ID
    assert second.attributes["request.id"] == "from-the-edge-1"


def test_request_id_from_trace_without_tracing_uses_a_valid_traceparent(client: Client, settings: Any) -> None:
    """With tracing off, REQUEST_ID_FROM_TRACE still adopts a valid incoming trace id, never a malformed one."""
    settings.LANTERN = {**settings.LANTERN, "REQUEST_ID_FROM_TRACE": True}
    assert client.get("/errors/items/1/", HTTP_TRACEPARENT=VALID).headers["X-Request-Id"] == TRACE_ID
    bad = client.get("/errors/items/1/", HTTP_TRACEPARENT=MALFORMED["uppercase hex"]).headers["X-Request-Id"]
    assert bad.lower() != TRACE_ID


def test_tracing_off_leaves_context_ids_unknown(logs: Any, client: Client) -> None:
    """Without configure()/enable(), nothing is traced and the ids stay "-"."""
    assert tracing.state.tracer is None
    response = client.get("/errors/items/1/", HTTP_TRACEPARENT=VALID)
    for line in request_lines(logs, response.headers["X-Request-Id"]):
        assert line["trace_id"] == "-" and line["span_id"] == "-"


def test_a_failing_tracer_never_breaks_the_request(client: Client, internal_errors: dict[str, int]) -> None:
    """An exception inside span start is counted; the response is unaffected."""

    class BrokenTracer:
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("tracer bug")

    tracing.state.tracer = BrokenTracer()
    try:
        response = client.get("/errors/items/1/")
    finally:
        tracing.state.tracer = None
    assert response.status_code == 200
    assert internal_errors["tracing_begin"] == 1


def test_parse_traceparent_rules() -> None:
    """The validator on its own: the W3C rules above, plus surrounding blanks tolerated."""
    assert parse_traceparent(VALID) == (int(TRACE_ID, 16), int(PARENT_ID, 16), 1)
    assert parse_traceparent(f" {VALID}\t") is not None
    for header in MALFORMED.values():
        assert parse_traceparent(header) is None, header
    assert tracestate_ok(None) and tracestate_ok("a=1")
    assert not any(tracestate_ok(v) for v in OVERSIZE_TRACESTATE.values())


def test_without_opentelemetry_enable_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module imports without OpenTelemetry; enable()/configure() say which extra to install."""
    for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.sdk.trace"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"django-lantern\[otel\]"):
        tracing.enable()
    with pytest.raises(ImportError, match=r"django-lantern\[otel\]"):
        tracing.configure(set_global=False)


def test_one_exception_receiver_whether_tracing_is_on_or_off(tracer_provider: Any) -> None:
    """Lantern connects one ``got_request_exception`` receiver, and enabling tracing adds none."""
    from django.core.signals import got_request_exception

    from django_lantern import _exceptions as signals

    def ours() -> list[Any]:
        return [
            r
            for r in got_request_exception._live_receivers(None)[0]
            if getattr(r, "__module__", "").startswith("django_lantern")
        ]

    assert ours() == [signals.on_request_exception]
    tracing.disable()
    assert ours() == [signals.on_request_exception]


def test_view_exception_goes_through_the_one_receiver(
    tracer_provider: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view exception goes through ``signals.on_exception`` once: counted and on the span."""
    from django_lantern import _exceptions as signals

    seen: list[tuple[str, bool, bool]] = []
    original = signals.on_exception

    def spy(exc: BaseException, span: Any = None, *, count: bool = True) -> None:
        seen.append((type(exc).__name__, span is not None, count))
        original(exc, span, count=count)

    monkeypatch.setattr(signals, "on_exception", spy)
    client.raise_request_exception = False
    assert client.get("/errors/fail/").status_code == 500
    assert seen == [("RuntimeError", True, True)]
    (span,) = spans(tracer_provider)
    assert [e.name for e in span.events].count("exception") == 1


def test_exception_event_redacts_the_requests_own_secrets(tracer_provider: Any, client: Client) -> None:
    """A session cookie quoted in the exception: absent from the span's exception event."""
    session_key = "k7fz2qv9w1x8m3n6p0r4t5y2u8i1o3a9"
    client.raise_request_exception = False
    client.cookies["sessionid"] = session_key
    assert client.get("/errors/quoted/").status_code == 500
    (span,) = spans(tracer_provider)
    (event,) = [e for e in span.events if e.name == "exception"]
    assert "no session [redacted]" in event.attributes["exception.message"]
    assert session_key not in json.dumps(dict(event.attributes))


@pytest.mark.parametrize(
    "token",
    [
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "rk_live_" + "51H8xZ2eZvKYlo2C0aBcDeF",
        "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "xoxb-" + "2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx",
        "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ],
)  # fmt: skip
def test_vendor_tokens_reach_no_span(token: str, tracer_provider: Any, client: Client) -> None:
    """A token in the exception event and in a span attribute (the query), found by its shape."""
    client.raise_request_exception = False
    assert client.get("/errors/echo/", {"echo": token}).status_code == 500
    (span,) = spans(tracer_provider)
    (event,) = [e for e in span.events if e.name == "exception"]
    assert "upstream rejected [redacted]" in event.attributes["exception.message"]
    everything = json.dumps({**dict(span.attributes), **dict(event.attributes)})
    assert token not in everything
