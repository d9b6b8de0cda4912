"""The server span of a streaming response ends when the body ends, and a failing body makes it a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, StreamingHttpResponse
from django.test import RequestFactory

from django_lantern.middleware import LanternMiddleware


def _chunks(fail: bool) -> Iterator[bytes]:
    yield b"one\n"
    if fail:
        raise RuntimeError("mid-stream failure")
    yield b"two\n"


def _respond(fail: bool) -> Any:
    def view(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(_chunks(fail), content_type="text/plain")

    return LanternMiddleware(view)(RequestFactory().get("/export/"))


def test_span_ends_with_the_stream(tracer_provider: Any) -> None:
    """No span is finished when the middleware returns; it is, with status 200, once the body is consumed."""
    from opentelemetry import trace

    response = _respond(fail=False)
    assert tracer_provider.exporter.get_finished_spans() == ()
    # The middleware detached the span's context on return: nothing leaks into the caller.
    assert not trace.get_current_span().get_span_context().is_valid
    assert b"".join(response.streaming_content) == b"one\ntwo\n"
    (span,) = tracer_provider.exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 200
    assert span.status.is_ok


def test_span_of_a_failing_stream_is_an_error(tracer_provider: Any) -> None:
    """A body that raises: the span ends as a 500 error with the exception recorded."""
    from opentelemetry.trace import StatusCode

    response = _respond(fail=True)
    with pytest.raises(RuntimeError):
        b"".join(response.streaming_content)
    (span,) = tracer_provider.exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 500
    assert span.status.status_code == StatusCode.ERROR
    assert [e.attributes["exception.type"] for e in span.events if e.name == "exception"] == ["RuntimeError"]
