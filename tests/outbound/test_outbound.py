"""Outbound calls carry the request id (and traceparent) to the hosts allowed, against a real echo server."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from django_lantern import _errors as errors
from django_lantern import outbound
from django_lantern.context import RequestContext, current
from django_lantern.middleware import LanternMiddleware
from django_lantern.outbound import _headers as outbound_headers
from tests.outbound.conftest import EchoServer

RID = "req-0123456789abcdef"


@contextlib.contextmanager
def bound(request_id: str = RID) -> Iterator[None]:
    token = current.set(RequestContext(request_id, "GET", "/x", None))
    try:
        yield
    finally:
        current.reset(token)


def test_the_client_classes_load_on_first_use() -> None:
    """The lazily imported names resolve (``__all__`` is pinned in tests/test_public_api.py); others do not."""
    for name in outbound.__all__:
        assert getattr(outbound, name) is not None
    with pytest.raises(AttributeError):
        outbound.NoSuchThing  # noqa: B018


def test_requests_session_sends_the_request_id(echo: EchoServer) -> None:
    """Inside a request, ``RequestsSession`` adds ``X-Request-Id`` with the current id."""
    with bound(), outbound.RequestsSession() as session:
        seen = session.get(echo.url(), timeout=5).json()
    assert seen["x-request-id"] == RID


def test_outside_a_request_nothing_is_added(echo: EchoServer) -> None:
    """With no request id bound, the call goes out as built."""
    with outbound.RequestsSession() as session:
        seen = session.get(echo.url(), timeout=5).json()
    assert "x-request-id" not in seen
    assert "traceparent" not in seen


def test_a_header_the_caller_set_is_kept(echo: EchoServer) -> None:
    """The caller's own ``X-Request-Id`` is never replaced."""
    with bound(), outbound.RequestsSession() as session:
        seen = session.get(echo.url(), headers={"X-Request-ID": "mine"}, timeout=5).json()
    assert seen["x-request-id"] == "mine"


@override_settings(LANTERN={"REQUEST_ID_HEADER": "X-Correlation-Id"})
def test_the_configured_header_name_is_used(echo: EchoServer) -> None:
    """``REQUEST_ID_HEADER`` names the outgoing header too."""
    with bound(), outbound.RequestsSession() as session:
        seen = session.get(echo.url(), timeout=5).json()
    assert seen["x-correlation-id"] == RID
    assert "x-request-id" not in seen


def test_httpx_sync_transport(echo: EchoServer) -> None:
    """``HTTPXTransport`` adds the id to ``httpx.Client`` calls."""
    with bound(), httpx.Client(transport=outbound.HTTPXTransport()) as client:
        seen = client.get(echo.url(), timeout=5).json()
    assert seen["x-request-id"] == RID


async def test_httpx_async_transport(echo: EchoServer) -> None:
    """``AsyncHTTPXTransport`` adds the id to ``httpx.AsyncClient`` calls."""
    with bound():
        async with httpx.AsyncClient(transport=outbound.AsyncHTTPXTransport()) as client:
            seen = (await client.get(echo.url(), timeout=5)).json()
    assert seen["x-request-id"] == RID


def test_the_id_of_the_request_being_served_goes_out(echo: EchoServer) -> None:
    """Through the middleware: the call made by the view carries the id the response echoes."""
    calls: list[dict[str, str]] = []

    def view(request: HttpRequest) -> HttpResponse:
        with outbound.RequestsSession() as session:
            calls.append(session.get(echo.url(), timeout=5).json())
        return HttpResponse("ok")

    response = LanternMiddleware(view)(RequestFactory().get("/x", HTTP_X_REQUEST_ID="incoming-42"))
    assert response["X-Request-Id"] == "incoming-42"
    assert calls[0]["x-request-id"] == "incoming-42"


def test_instrument_covers_plain_calls_and_is_idempotent(echo: EchoServer) -> None:
    """After ``instrument()`` (twice), plain ``requests`` and ``httpx`` calls carry the id;
    ``uninstrument()`` restores the libraries' own methods."""
    original_send = requests.Session.send
    original_handle = httpx.HTTPTransport.handle_request
    assert outbound.instrument() == ["httpx", "requests"]
    patched_send = requests.Session.send
    outbound.instrument()
    assert requests.Session.send is patched_send
    with bound():
        assert requests.get(echo.url(), timeout=5).json()["x-request-id"] == RID
        assert httpx.get(echo.url(), timeout=5).json()["x-request-id"] == RID
    outbound.uninstrument()
    assert requests.Session.send is original_send
    assert httpx.HTTPTransport.handle_request is original_handle
    with bound():
        assert "x-request-id" not in requests.get(echo.url(), timeout=5).json()


async def test_instrument_covers_async_httpx(echo: EchoServer) -> None:
    """``instrument()`` also patches ``httpx.AsyncClient``'s default transport."""
    outbound.instrument()
    with bound():
        async with httpx.AsyncClient() as client:
            seen = (await client.get(echo.url(), timeout=5)).json()
    assert seen["x-request-id"] == RID


@override_settings(LANTERN={"OUTBOUND_HOSTS": ["127.0.0.1"]})
def test_a_host_outside_the_allowlist_gets_nothing(echo: EchoServer) -> None:
    """With ``OUTBOUND_HOSTS``, only listed hosts get the id, for every client."""
    outbound.instrument()
    with bound():
        assert requests.get(echo.url(host="localhost"), timeout=5).json().get("x-request-id") is None
        assert httpx.get(echo.url(host="localhost"), timeout=5).json().get("x-request-id") is None
        assert requests.get(echo.url(host="127.0.0.1"), timeout=5).json()["x-request-id"] == RID


@pytest.mark.parametrize("client", ["requests", "httpx"])
@override_settings(LANTERN={"OUTBOUND_HOSTS": ["127.0.0.1"]})
def test_a_redirect_to_another_host_drops_the_id(echo: EchoServer, client: str) -> None:
    """Allowed host redirects to a host outside the list: the second hop has no id."""
    target = echo.url(host="localhost")
    start = echo.url(f"/redirect?to={target}")
    with bound():
        if client == "requests":
            with outbound.RequestsSession() as session:
                final = session.get(start, timeout=5).json()
        else:
            with httpx.Client(transport=outbound.HTTPXTransport(), follow_redirects=True) as hclient:
                final = hclient.get(start, timeout=5).json()
    hops = echo.hops()
    assert [path.split("?")[0] for path, _ in hops] == ["/redirect", "/echo"]
    assert hops[0][1]["x-request-id"] == RID
    assert "x-request-id" not in final


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("api.example.com", None, True),
        ("api.example.com", ("api.example.com",), True),
        ("API.Example.com.", ("api.example.com",), True),
        ("api.example.com", ("*.example.com",), True),
        ("example.com", ("*.example.com",), False),
        ("evilexample.com", ("*.example.com",), False),
        ("api.example.com.evil.net", ("api.example.com",), False),
        ("[::1]", ("::1",), True),
        (None, ("api.example.com",), False),
        ("", (), False),
    ],
)
def test_host_allowed(host: str | None, allowed: tuple[str, ...] | None, expected: bool) -> None:
    """Exact names, ``*.`` subdomains (not the bare domain), no suffix tricks."""
    assert outbound.host_allowed(host, allowed) is expected


@pytest.mark.parametrize("value", ["api.example.com", ["bad host"], [1], ["*"], ["http://x.com"]])
def test_invalid_outbound_hosts_are_reported(value: Any) -> None:
    """``OUTBOUND_HOSTS`` must be None or a list of host names; errors name the key."""
    from django_lantern.conf import build_settings

    _, problems = build_settings({"OUTBOUND_HOSTS": value})
    assert problems and all("OUTBOUND_HOSTS" in p for p in problems)


def test_valid_outbound_hosts_are_normalised() -> None:
    """Entries are lower-cased and lose a trailing dot."""
    from django_lantern.conf import build_settings

    built, problems = build_settings({"OUTBOUND_HOSTS": ["API.example.com.", "*.internal", "10.0.0.5"]})
    assert problems == []
    assert built.outbound_hosts == ("api.example.com", "*.internal", "10.0.0.5")


def test_an_error_while_adding_headers_never_fails_the_call(echo: EchoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """If working out the headers fails, the call goes out unchanged and the error is counted."""

    def broken() -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(outbound_headers, "wanted_headers", broken)
    before = errors.counts.get("outbound_headers", 0)
    with bound(), outbound.RequestsSession() as session:
        seen = session.get(echo.url(), timeout=5).json()
    assert "x-request-id" not in seen
    assert errors.counts["outbound_headers"] == before + 1


def test_traceparent_is_sent_while_tracing_is_on(echo: EchoServer, tracer_provider: Any) -> None:
    """Inside a traced request, the call carries a ``traceparent`` of the server span's trace."""
    calls: list[dict[str, str]] = []

    def view(request: HttpRequest) -> HttpResponse:
        with httpx.Client(transport=outbound.HTTPXTransport()) as client:
            calls.append(client.get(echo.url(), timeout=5).json())
        return HttpResponse("ok")

    LanternMiddleware(view)(RequestFactory().get("/x"))
    (span,) = tracer_provider.exporter.get_finished_spans()
    trace_id = format(span.context.trace_id, "032x")
    assert calls[0]["traceparent"].split("-")[1] == trace_id
    assert calls[0]["x-request-id"]


@override_settings(LANTERN={"OUTBOUND_HOSTS": ["api.example.com"]})
def test_traceparent_obeys_the_allowlist(echo: EchoServer, tracer_provider: Any) -> None:
    """Neither the id nor ``traceparent`` goes to a host outside ``OUTBOUND_HOSTS``."""
    calls: list[dict[str, str]] = []

    def view(request: HttpRequest) -> HttpResponse:
        with outbound.RequestsSession() as session:
            calls.append(session.get(echo.url(), timeout=5).json())
        return HttpResponse("ok")

    LanternMiddleware(view)(RequestFactory().get("/x"))
    assert "traceparent" not in calls[0]
    assert "x-request-id" not in calls[0]


def test_without_tracing_no_traceparent(echo: EchoServer) -> None:
    """Tracing off: only the request id goes out."""
    with bound(), outbound.RequestsSession() as session:
        seen = session.get(echo.url(), timeout=5).json()
    assert "traceparent" not in seen


def test_importing_the_module_imports_neither_client() -> None:
    """requests and httpx are optional: importing ``django_lantern.outbound`` loads neither."""
    code = (
        "import sys, django_lantern.outbound; "
        "assert 'requests' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
