"""Streaming responses: the context while the body is produced, and the request's end when it ends.

A streaming response's body is iterated by the server after every middleware
has returned. Two things follow:

- the context var has already been reset, so it is re-bound around each
  chunk: log lines written inside the generator carry their request's id,
  and only that id, and its queries count in the request's cost; the
  chunks' bytes are counted too, unless ``Content-Length`` says them;
- the request is not over when the middleware returns. Its access line,
  metrics and server span are deferred to :class:`StreamEnd`, which fires
  exactly once, at the first of: the body is exhausted (completed), the body
  raised (failed: logged and counted as a 500), the consumer stopped early or
  the task was cancelled (aborted: the client went away), or the response
  was closed without the body being iterated here (completed:
  ``wsgi.file_wrapper`` sends a ``FileResponse``'s file itself, and a server
  may skip the body of a ``HEAD``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import cast

from django.http import StreamingHttpResponse

from django_lantern.context import RequestContext, current

COMPLETED = "completed"
FAILED = "failed"
ABORTED = "aborted"


class StreamEnd:
    """Calls ``on_end(outcome, error)`` once, from whichever thread or task ends the stream."""

    __slots__ = ("_lock", "_on_end", "done", "started")

    def __init__(self, on_end: Callable[[str, BaseException | None], None]) -> None:
        self._on_end = on_end
        self._lock = threading.Lock()
        self.done = False
        self.started = False

    def __call__(self, outcome: str, error: BaseException | None = None) -> None:
        with self._lock:
            if self.done:
                return
            self.done = True
        self._on_end(outcome, error)

    def on_close(self) -> None:
        """``response.close()``: the server is done with the response (a closer, runs last)."""
        self(ABORTED if self.started else COMPLETED)


@contextlib.contextmanager
def _reporting_end(end: StreamEnd | None, early: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Tell ``end`` how the body ended: completed, aborted (an ``early`` exit), or failed."""
    if end is None:
        yield
        return
    end.started = True
    try:
        yield
    except early:  # closed before the end: the consumer gave up
        end(ABORTED)
        raise
    except BaseException as exc:
        end(FAILED, exc)
        raise
    end(COMPLETED)


def _bind_sync(chunks: Iterable[bytes], ctx: RequestContext, end: StreamEnd | None, count: bool) -> Iterator[bytes]:
    cost = ctx.cost
    with _reporting_end(end, (GeneratorExit,)):
        if count:
            cost.response_bytes = 0
        iterator = iter(chunks)
        while True:
            token = current.set(ctx)
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            finally:
                current.reset(token)
            if count:
                cost.response_bytes += len(chunk)  # type: ignore[operator]
            yield chunk


async def _bind_async(
    chunks: AsyncIterable[bytes], ctx: RequestContext, end: StreamEnd | None, count: bool
) -> AsyncIterator[bytes]:
    cost = ctx.cost
    # Cancelled: the client disconnected.
    with _reporting_end(end, (GeneratorExit, asyncio.CancelledError)):
        if count:
            cost.response_bytes = 0
        iterator = aiter(chunks)
        while True:
            token = current.set(ctx)
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                break
            finally:
                current.reset(token)
            if count:
                cost.response_bytes += len(chunk)  # type: ignore[operator]
            yield chunk


def _declared_length(response: StreamingHttpResponse) -> int | None:
    """The body's length as its ``Content-Length`` says it (a ``FileResponse`` sets it), if valid."""
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() and len(value) <= 18 else None


def bind_streaming_context(response: StreamingHttpResponse, ctx: RequestContext, end: StreamEnd | None = None) -> None:
    """Wrap ``response``'s body so each chunk is produced inside ``ctx``, and ``end`` fires when it ends.

    ``end`` is also registered as the response's last closer, for bodies that
    are never iterated through the wrapper.
    """
    content = response.streaming_content
    # ``response_bytes``: the declared length, else the chunks counted as they pass
    # (left unknown when the server sends the body without iterating it here).
    length = _declared_length(response)
    ctx.cost.response_bytes = length
    count = length is None
    if response.is_async:
        response.streaming_content = _bind_async(cast("AsyncIterator[bytes]", content), ctx, end, count)
    else:
        response.streaming_content = _bind_sync(cast("Iterator[bytes]", content), ctx, end, count)
    if end is not None:
        # Django calls each closer from ``response.close()``; setting
        # streaming_content above already registered the wrapper's own close.
        response._resource_closers.append(end.on_close)  # type: ignore[attr-defined]
