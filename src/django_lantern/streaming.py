"""Keep the request context bound while a streaming body is produced.

A streaming response's body is iterated by the server after every middleware
has returned, so the context var has already been reset. Re-binding it around
each chunk lets log lines written inside the generator carry their request's
id, and only that id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from django_lantern.context import RequestContext, current


def _bind_sync(chunks: Iterator[Any], ctx: RequestContext) -> Iterator[Any]:
    iterator = iter(chunks)
    while True:
        token = current.set(ctx)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            current.reset(token)
        yield chunk


async def _bind_async(chunks: AsyncIterator[Any], ctx: RequestContext) -> AsyncIterator[Any]:
    iterator = aiter(chunks)
    while True:
        token = current.set(ctx)
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        finally:
            current.reset(token)
        yield chunk


def bind_streaming_context(response: StreamingHttpResponse, ctx: RequestContext) -> None:
    """Wrap ``response``'s body so each chunk is produced inside ``ctx``.

    ``FileResponse`` bodies sent through ``wsgi.file_wrapper`` bypass this (the
    server reads the file directly), which is fine: no user code runs there.
    """
    content = response.streaming_content
    if response.is_async:
        response.streaming_content = _bind_async(content, ctx)  # type: ignore[arg-type]
    else:
        response.streaming_content = _bind_sync(content, ctx)  # type: ignore[arg-type]
