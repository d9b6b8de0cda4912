"""The per-request context: set for the request, reset after it, never leaked."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import resolve

from django_lantern.context import UNKNOWN, RequestContext, get_context, get_request_id, route_template
from django_lantern.middleware import LanternMiddleware
from tests.conftest import CORE_URLS


def test_outside_a_request_everything_is_unknown() -> None:
    """Outside a request get_request_id() is "-" and get_context() is None."""
    assert get_request_id() == "-"
    assert get_context() is None


def test_context_is_reset_after_the_request() -> None:
    """After the middleware returns, the id is "-" again."""
    request = RequestFactory().get("/x")
    LanternMiddleware(lambda r: HttpResponse("ok"))(request)
    assert get_request_id() == "-"
    assert get_context() is None


def test_context_is_reset_when_the_inner_layer_raises() -> None:
    """Even when get_response raises, the context is reset in ``finally``."""

    def explode(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("inner layer failed")

    with pytest.raises(RuntimeError):
        LanternMiddleware(explode)(RequestFactory().get("/x"))
    assert get_request_id() == "-"


def test_nothing_leaks_into_the_next_request_on_the_same_thread() -> None:
    """Two sequential requests on one thread each see only their own id."""
    seen: list[tuple[str, str | None]] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append((get_request_id(), request.META.get("HTTP_X_REQUEST_ID")))
        return HttpResponse("ok")

    middleware = LanternMiddleware(view)
    middleware(RequestFactory().get("/x", HTTP_X_REQUEST_ID="first-id"))
    middleware(RequestFactory().get("/x"))
    assert seen[0] == ("first-id", "first-id")
    assert seen[1][0] not in ("first-id", "-")
    assert get_request_id() == "-"


@pytest.mark.urls(CORE_URLS)
def test_client_requests_do_not_share_ids(client: Client) -> None:
    """Through the full stack, each request's view sees its own id and none is left behind."""
    first = client.get("/current-id/").json()
    second = client.get("/current-id/").json()
    assert first["request_id"] == first["attribute"]
    assert second["request_id"] == second["attribute"]
    assert first["request_id"] != second["request_id"]
    assert get_request_id() == "-"


def test_route_is_unknown_before_resolution() -> None:
    """RequestContext.route is "-" until URL resolution has happened."""
    request = RequestFactory().get("/items/3/")
    ctx = RequestContext("rid", "GET", "/items/3/", request)
    assert ctx.route == UNKNOWN
    assert RequestContext("rid", "GET", "/", None).route == UNKNOWN


@pytest.mark.urls(CORE_URLS)
def test_route_is_the_url_pattern_after_resolution() -> None:
    """After resolution, RequestContext.route is the pattern, not the concrete path."""
    request = RequestFactory().get("/items/3/")
    request.resolver_match = resolve("/items/3/")
    assert RequestContext("rid", "GET", "/items/3/", request).route == "/items/<int:pk>/"


@pytest.mark.parametrize(
    ("django_route", "ours"),
    [
        ("", "/"),
        ("accounts/login/", "/accounts/login/"),
        ("orgs/<slug:slug>/tasks/", "/orgs/<slug:slug>/tasks/"),
        ("admin/(?P<app_label>auth|tasks)/$", "/admin/<app_label>/"),
        ("^api/(?P<version>v[0-9]+)/items\\.json$", "/api/<version>/items.json"),
        ("x/(?P<part>(a|b)[)(])/\\Z", "/x/<part>/"),
    ],
)
def test_route_has_one_spelling(django_route: str, ours: str) -> None:
    """Every route is a path template with a leading slash; a re_path() regex reads as one."""
    assert route_template(django_route) == ours
