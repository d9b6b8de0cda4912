"""Outbound HTTP calls that carry the request id (and ``traceparent``).

Per client, ready to use::

    from django_lantern import outbound

    session = outbound.RequestsSession()                             # requests
    client = httpx.Client(transport=outbound.HTTPXTransport())       # httpx, sync
    client = httpx.AsyncClient(transport=outbound.AsyncHTTPXTransport())  # httpx, async

or every call of both libraries, opt-in, once per process (idempotent)::

    outbound.instrument()

Each call made while a request id is bound gets it under
``LANTERN["REQUEST_ID_HEADER"]``; while tracing is on, the OpenTelemetry
propagators' headers (``traceparent``, ``tracestate``) too. With
``LANTERN["OUTBOUND_HOSTS"]`` set, only the listed hosts get them. A header
the caller set is never replaced. requests and httpx are imported only by
what uses them: install the ones you use.
"""

from __future__ import annotations

import importlib
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from django_lantern.outbound._headers import host_allowed

if TYPE_CHECKING:
    from django_lantern.outbound._httpx import AsyncHTTPXTransport, HTTPXTransport
    from django_lantern.outbound._requests import RequestsSession

__all__ = [
    "AsyncHTTPXTransport",
    "HTTPXTransport",
    "RequestsSession",
    "host_allowed",
    "instrument",
    "uninstrument",
]

_LAZY = {
    "RequestsSession": "django_lantern.outbound._requests",
    "HTTPXTransport": "django_lantern.outbound._httpx",
    "AsyncHTTPXTransport": "django_lantern.outbound._httpx",
}
_SUPPORTS = {"requests": "django_lantern.outbound._requests", "httpx": "django_lantern.outbound._httpx"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def _installed_supports() -> dict[str, Any]:
    # A library that is not installed has no calls to patch.
    return {lib: importlib.import_module(module) for lib, module in _SUPPORTS.items() if find_spec(lib) is not None}


def instrument() -> list[str]:
    """Patch requests and httpx (whichever are installed) so every call carries
    the headers; returns the libraries patched. Calling it again does nothing more."""
    supports = _installed_supports()
    for support in supports.values():
        support.instrument()
    return sorted(supports)


def uninstrument() -> None:
    """Undo :func:`instrument`: requests and httpx send unchanged again."""
    for support in _installed_supports().values():
        support.uninstrument()
