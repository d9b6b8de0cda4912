"""Streaming responses: one access line when the body ends, failures as 500s, the context bound per chunk.

These drive ``LanternMiddleware`` directly and iterate the body as a server
would, after the middleware has returned (the test client hides that). The
real-server versions are in tests/server/test_streaming.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, StreamingHttpResponse
from django.test import RequestFactory
from prometheus_client import REGISTRY

from django_lantern.context import get_request_id
from django_lantern.middleware import LanternMiddleware
from tests.conftest import LogCapture

# response.close() sends request_finished, whose close_old_connections touches the database.
pytestmark = pytest.mark.django_db

logger = logging.getLogger("tests.streaming")
DELAY = 0.1


def _requests(status: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "http_server_requests":
            total += sum(
                s.value for s in metric.samples if s.name.endswith("_total") and s.labels["status_code"] == status
            )
    return total


def _slow_chunks() -> Iterator[bytes]:
    for part in range(3):
        time.sleep(DELAY)
        logger.info("chunk %s", part)
        yield f"chunk {part}\n".encode()


def _failing_chunks() -> Iterator[bytes]:
    yield b"first\n"
    raise RuntimeError("the database went away mid-stream")


def _respond(chunks: Any) -> Any:
    def view(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(chunks(), content_type="text/plain")

    return LanternMiddleware(view)(RequestFactory().get("/export/"))


def test_access_line_is_written_once_when_the_stream_ends_and_times_it(logs: LogCapture) -> None:
    """Nothing is logged when the middleware returns; one line after the last chunk, its duration
    covering the streaming, and the chunks' own lines carry the request id."""
    response = _respond(_slow_chunks)
    assert logs.access() == []
    assert b"".join(response.streaming_content) == b"chunk 0\nchunk 1\nchunk 2\n"
    response.close()
    (access,) = logs.access()
    assert access.levelno == logging.INFO and access.status == 200  # type: ignore[attr-defined]
    assert access.duration_ms >= 3 * DELAY * 1000  # type: ignore[attr-defined]
    assert "outcome" not in access.__dict__
    rid = response["X-Request-Id"]
    chunks = [r for r in logs.records if r.name == "tests.streaming"]
    assert len(chunks) == 3 and {r.request_id for r in chunks} == {rid}  # type: ignore[attr-defined]
    assert access.request_id == rid  # type: ignore[attr-defined]
    assert get_request_id() == "-"


def test_a_body_that_raises_is_an_error_and_a_500(logs: LogCapture) -> None:
    """A generator that raises midway: the access line is ERROR, status 500, outcome failed, with the
    exception; the metrics count a 500 and no 200."""
    ok_before, failed_before = _requests("200"), _requests("500")
    response = _respond(_failing_chunks)
    iterator = iter(response.streaming_content)
    assert next(iterator) == b"first\n"
    with pytest.raises(RuntimeError):
        next(iterator)
    response.close()
    (access,) = logs.access()
    assert access.levelno == logging.ERROR
    assert access.status == 500 and access.outcome == "failed"  # type: ignore[attr-defined]
    assert "status=500" in access.getMessage()
    line = logs.by_logger("access")[0]
    assert line["status"] == 500 and line["exc_type"] == "RuntimeError" and line["level"] == "error"
    assert _requests("500") == failed_before + 1
    assert _requests("200") == ok_before


def test_a_body_the_client_abandons_is_logged_as_aborted(logs: LogCapture) -> None:
    """The server closes the response after one chunk (client gone): one line, outcome aborted, status as sent."""
    response = _respond(_slow_chunks)
    iterator = iter(response.streaming_content)
    next(iterator)
    response.close()
    (access,) = logs.access()
    assert access.outcome == "aborted" and access.status == 200  # type: ignore[attr-defined]
    assert access.levelno == logging.WARNING


def test_a_body_never_iterated_here_is_logged_when_the_response_closes(logs: LogCapture) -> None:
    """wsgi.file_wrapper sends a file itself and only calls close(): that is the end of the request."""
    response = _respond(_slow_chunks)
    assert logs.access() == []
    response.close()
    response.close()
    (access,) = logs.access()
    assert access.status == 200 and "outcome" not in access.__dict__  # type: ignore[attr-defined]


async def test_async_body_is_logged_at_its_end_and_failure_is_a_500(logs: LogCapture) -> None:
    """The async path: an async generator that raises after a chunk gives one ERROR line with status 500."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one\n"
        await asyncio.sleep(DELAY)
        raise ValueError("upstream closed")

    async def view(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(chunks(), content_type="text/plain")

    response = await LanternMiddleware(view)(RequestFactory().get("/export/"))
    assert logs.access() == []
    with pytest.raises(ValueError):
        async for _ in response.streaming_content:
            pass
    (access,) = logs.access()
    assert access.status == 500 and access.outcome == "failed"  # type: ignore[attr-defined]
    assert access.duration_ms >= DELAY * 1000  # type: ignore[attr-defined]


async def test_async_body_cancelled_is_aborted(logs: LogCapture) -> None:
    """A cancelled task (the client disconnected under ASGI) ends the request as aborted."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one\n"
        await asyncio.sleep(30)
        yield b"never\n"

    async def view(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(chunks(), content_type="text/plain")

    response = await LanternMiddleware(view)(RequestFactory().get("/export/"))

    async def consume() -> None:
        async for _ in response.streaming_content:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(DELAY)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (access,) = logs.access()
    assert access.outcome == "aborted"  # type: ignore[attr-defined]
