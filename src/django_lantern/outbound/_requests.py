"""requests: a ``Session`` that carries the context's headers, and the patch
behind ``instrument()``.

Headers are added in ``Session.send``, which requests calls once per hop,
redirects included, so every hop is checked against the host allowlist.
"""

from __future__ import annotations

from typing import Any

import requests
from urllib3.util import parse_url

from django_lantern.outbound import _headers as headers

# The ``send`` that ``instrument()`` replaced, restored by ``uninstrument()``.
_original_send: Any = None


def _host(url: str | None) -> str | None:
    # urllib3's parser is the one requests itself used to build the URL, so
    # the host checked is the host connected to.
    try:
        return parse_url(url or "").host
    except Exception:
        return None


def prepare(request: requests.PreparedRequest) -> None:
    """Add (or, for a host outside the allowlist, remove) the context's headers."""
    headers.apply(request.headers, _host(request.url))


class RequestsSession(requests.Session):
    """``requests.Session`` whose calls carry the request id (and ``traceparent``)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        prepare(request)
        with headers.counted():
            return super().send(request, **kwargs)


def _instrumented_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
    prepare(request)
    with headers.counted():
        return _original_send(self, request, **kwargs)  # type: ignore[no-any-return]


def instrument() -> None:
    global _original_send
    if _original_send is None:
        _original_send = requests.Session.send
        requests.Session.send = _instrumented_send  # type: ignore[method-assign]


def uninstrument() -> None:
    global _original_send
    if _original_send is not None:
        requests.Session.send = _original_send  # type: ignore[method-assign]
        _original_send = None
