"""LanternMiddleware: the id on every response, CORS exposure, modes, fail-safety."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import Client, RequestFactory

from django_lantern import _errors as errors
from django_lantern.context import get_context
from django_lantern.logging._access_log import AccessLog
from django_lantern.middleware import LanternMiddleware
from tests.conftest import CORE_URLS, LogCapture

pytestmark = pytest.mark.urls(CORE_URLS)

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def quiet_client() -> Client:
    """A client that returns the 500 response instead of re-raising the view's exception."""
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/ok/", 200),
        ("get", "/redirect/", 302),
        ("get", "/does-not-exist/", 404),
        ("get", "/forbidden/", 403),
        ("post", "/only-get/", 405),
        ("get", "/boom/", 500),
        ("get", "/healthz", 200),
        ("post", "/readyz/", 405),
    ],
)
@pytest.mark.django_db
def test_id_is_echoed_on_every_response(quiet_client: Client, method: str, path: str, status: int) -> None:
    """Every response, error responses included, carries X-Request-Id and exposes it to browsers."""
    response = getattr(quiet_client, method)(path)
    assert response.status_code == status
    assert HEX32.fullmatch(response.headers["X-Request-Id"])
    assert response.headers["Access-Control-Expose-Headers"] == "X-Request-Id"


def test_incoming_id_is_echoed_on_a_500(quiet_client: Client) -> None:
    """A valid incoming id comes back on the 500 of a view that raised."""
    response = quiet_client.get("/boom/", headers={"X-Request-Id": "keep-me-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "keep-me-1"


def test_expose_headers_is_appended_not_overwritten(client: Client) -> None:
    """An existing Access-Control-Expose-Headers value is kept and the id header appended."""
    response = client.get("/exposes/", {"existing": "X-Custom, X-Other"})
    assert response.headers["Access-Control-Expose-Headers"] == "X-Custom, X-Other, X-Request-Id"


@pytest.mark.parametrize("existing", ["x-request-id", "X-Custom,X-Request-Id", " X-REQUEST-ID "])
def test_expose_headers_is_not_duplicated(client: Client, existing: str) -> None:
    """When the header is already exposed (any case, any spacing) it is not added again."""
    response = client.get("/exposes/", {"existing": existing})
    assert response.headers["Access-Control-Expose-Headers"] == existing


def test_expose_can_be_turned_off(client: Client, settings: Any) -> None:
    """With EXPOSE_REQUEST_ID_HEADER off, no Access-Control-Expose-Headers is added."""
    settings.LANTERN = {"EXPOSE_REQUEST_ID_HEADER": False}
    response = client.get("/ok/")
    assert "X-Request-Id" in response.headers
    assert "Access-Control-Expose-Headers" not in response.headers


def test_sync_and_async_capable() -> None:
    """The middleware declares both modes and picks the async path for an async get_response."""
    assert LanternMiddleware.sync_capable and LanternMiddleware.async_capable

    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    assert iscoroutinefunction(LanternMiddleware(async_view))
    assert not iscoroutinefunction(LanternMiddleware(lambda r: HttpResponse("ok")))


async def test_async_unit_sets_and_echoes_id() -> None:
    """In async mode the id is set, visible in the view, and echoed."""
    seen: list[str] = []

    async def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.request_id)  # type: ignore[attr-defined]
        return HttpResponse("ok")

    request = RequestFactory().get("/x", HTTP_X_REQUEST_ID="async-1")
    response = await LanternMiddleware(view)(request)
    assert seen == ["async-1"]
    assert response["X-Request-Id"] == "async-1"


def test_observability_error_never_breaks_a_good_response(
    client: Client, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    """An error inside the access log is counted and logged once; the response stays 200."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("access log exploded")

    monkeypatch.setattr(AccessLog, "write", broken)
    monkeypatch.setattr(errors, "_seen", set())
    before = errors.counts.get("access_log", 0)
    assert client.get("/ok/").status_code == 200
    assert client.get("/ok/").status_code == 200
    assert errors.counts["access_log"] == before + 2
    internal = [r for r in logs.records if r.name == "django_lantern" and r.levelno == logging.ERROR]
    assert len(internal) == 1


def test_user_lookup_error_is_fail_safe(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while finding the user id does not turn the response into a 500."""
    from django_lantern import middleware

    def broken(request: HttpRequest, cfg: Any) -> Any:
        raise RuntimeError("user lookup failed")

    monkeypatch.setattr(middleware, "resolve_user_id", broken)
    response = client.get("/ok/")
    assert response.status_code == 200


def test_django_request_log_line_carries_the_request_id(
    quiet_client: Client, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Django's own 4xx/5xx line on django.request is logged once, inside the request context."""
    monkeypatch.setattr(logging.getLogger("django.request"), "filters", [])  # keep Django's 4xx line here
    response = quiet_client.get("/does-not-exist/")
    lines = logs.by_logger("django.request")
    assert len(lines) == 1
    assert lines[0]["request_id"] == response.headers["X-Request-Id"]
    assert lines[0]["status"] == 404 and "status_code" not in lines[0]  # one name per field, as on the access line


def test_500_django_request_line_is_logged_once_with_exception(quiet_client: Client, logs: LogCapture) -> None:
    """A view that raises gives one django.request ERROR line with exc_type and the request id."""
    response = quiet_client.get("/boom/")
    lines = logs.by_logger("django.request")
    assert len(lines) == 1
    assert lines[0]["level"] == "error"
    assert lines[0]["exc_type"] == "RuntimeError"
    assert lines[0]["request_id"] == response.headers["X-Request-Id"]


def _through(mode: str, request: HttpRequest) -> HttpResponseBase:
    """One request through a bare LanternMiddleware around a view answering 200, in ``mode``."""
    if mode == "sync":
        return LanternMiddleware(lambda r: HttpResponse("ok"))(request)  # type: ignore[return-value]

    async def view(r: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    return async_to_sync(LanternMiddleware(view))(request)  # type: ignore[arg-type]


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("observability fault")


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("step", ["metrics", "headers", "access_log", "user"])
def test_each_step_at_the_end_is_guarded_on_its_own(
    mode: str, step: str, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    """A fault in one end step leaves the others done, the response a 200 and the context unbound."""
    from django_lantern import middleware
    from django_lantern.metrics import _recorder as recorder

    finished: list[int] = []
    monkeypatch.setattr(recorder, "request_finished", lambda *args, **kwargs: finished.append(args[2]))
    broken = {
        "metrics": (recorder, "request_finished"),
        "headers": (middleware, "decorate"),
        "access_log": (AccessLog, "write"),
        "user": (middleware, "resolve_user_id" if mode == "sync" else "aresolve_user_id"),
    }
    monkeypatch.setattr(*broken[step], _broken)
    request = RequestFactory().get("/x/", HTTP_X_REQUEST_ID="guard-1")
    response = _through(mode, request)
    assert response.status_code == 200
    assert get_context() is None
    assert finished == ([] if step == "metrics" else [200])
    assert ("X-Request-Id" in response.headers) is (step != "headers")
    assert len(logs.access()) == (0 if step == "access_log" else 1)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_user_is_looked_up_once_and_the_context_carries_it(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One lookup per request, on either path; its answer is the context's user id, which the access line reads."""
    from django_lantern import middleware

    looked_up: list[HttpRequest] = []

    def lookup(request: HttpRequest, cfg: Any) -> int:
        looked_up.append(request)
        return 42

    async def alookup(request: HttpRequest, cfg: Any) -> int:
        return lookup(request, cfg)

    monkeypatch.setattr(middleware, "resolve_user_id", lookup)
    monkeypatch.setattr(middleware, "aresolve_user_id", alookup)
    written: list[Any] = []
    monkeypatch.setattr(AccessLog, "write", lambda self, ctx, *args: written.append(ctx.user_id))
    request = RequestFactory().get("/x/")
    _through(mode, request)
    assert looked_up == [request] and written == [42]
    _through(mode, RequestFactory().get("/healthz"))
    assert looked_up == [request]  # a probe answered here has no user


@pytest.mark.parametrize("rid", ["keep-me-1", "a" * 128])
def test_id_header_is_what_djangos_own_setter_writes(client: Client, rid: str) -> None:
    """The headers the middleware adds serialise exactly as ``response[name] = value`` would write them."""
    response = client.get("/ok/", headers={"X-Request-Id": rid})
    expected = HttpResponse()
    for name, value in response.items():
        expected[name] = value
    assert response.serialize_headers() == expected.serialize_headers()
    assert list(response.headers.items()) == list(expected.headers.items())
