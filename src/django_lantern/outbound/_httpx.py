"""httpx: transports that carry the context's headers, and the patch behind
``instrument()``.

A transport sees every hop of a redirect, so each is checked against the host
allowlist; wrapping one keeps whatever transport (retries, proxies, HTTP/2)
the caller chose.
"""

from __future__ import annotations

from typing import Any

import httpx

from django_lantern.outbound import _headers as headers

# The methods that ``instrument()`` replaced, restored by ``uninstrument()``.
_originals: dict[str, Any] = {}


def prepare(request: httpx.Request) -> None:
    """Add (or, for a host outside the allowlist, remove) the context's headers."""
    headers.apply(request.headers, request.url.host)


class HTTPXTransport(httpx.BaseTransport):
    """Wraps a sync transport (default ``httpx.HTTPTransport()``):
    ``httpx.Client(transport=HTTPXTransport())``."""

    def __init__(self, transport: httpx.BaseTransport | None = None, **kwargs: Any) -> None:
        self.transport = transport if transport is not None else httpx.HTTPTransport(**kwargs)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        prepare(request)
        with headers.counted():
            return self.transport.handle_request(request)

    def close(self) -> None:
        self.transport.close()


class AsyncHTTPXTransport(httpx.AsyncBaseTransport):
    """Wraps an async transport (default ``httpx.AsyncHTTPTransport()``):
    ``httpx.AsyncClient(transport=AsyncHTTPXTransport())``."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        self.transport = transport if transport is not None else httpx.AsyncHTTPTransport(**kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        prepare(request)
        with headers.counted():
            return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


def _instrumented_handle(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
    prepare(request)
    with headers.counted():
        return _originals["sync"](self, request)  # type: ignore[no-any-return]


async def _instrumented_ahandle(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
    prepare(request)
    with headers.counted():
        return await _originals["async"](self, request)  # type: ignore[no-any-return]


def instrument() -> None:
    if not _originals:
        _originals["sync"] = httpx.HTTPTransport.handle_request
        _originals["async"] = httpx.AsyncHTTPTransport.handle_async_request
        httpx.HTTPTransport.handle_request = _instrumented_handle  # type: ignore[method-assign]
        httpx.AsyncHTTPTransport.handle_async_request = _instrumented_ahandle  # type: ignore[method-assign]


def uninstrument() -> None:
    if _originals:
        httpx.HTTPTransport.handle_request = _originals.pop("sync")  # type: ignore[method-assign]
        httpx.AsyncHTTPTransport.handle_async_request = _originals.pop("async")  # type: ignore[method-assign]
