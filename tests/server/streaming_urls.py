"""The example's URLs plus streaming views for the real-server streaming tests."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path

from config.urls import urlpatterns as example_urlpatterns

logger = logging.getLogger("tests.streaming")

CHUNKS = 3
DELAY = 0.15


def slow(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for part in range(CHUNKS):
            time.sleep(DELAY)
            logger.info("slow chunk", extra={"chunk": part})
            yield f"chunk {part}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def fail(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first\n"
        time.sleep(DELAY)
        raise RuntimeError("generator failed mid-stream")

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def aslow(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for part in range(CHUNKS):
            await asyncio.sleep(DELAY)
            logger.info("slow chunk", extra={"chunk": part})
            yield f"chunk {part}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def afail(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        await asyncio.sleep(DELAY)
        raise RuntimeError("generator failed mid-stream")

    return StreamingHttpResponse(chunks(), content_type="text/plain")


urlpatterns = [
    path("stream/slow/", slow),
    path("stream/fail/", fail),
    path("astream/slow/", aslow),
    path("astream/fail/", afail),
    *example_urlpatterns,
]
