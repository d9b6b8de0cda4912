"""Finding the user id: cached users, session cookies, and no surprise lookups."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django.utils.functional import SimpleLazyObject, empty

from django_lantern.conf import get_settings
from django_lantern.http._users import aresolve_user_id, cached_user_id, resolve_user_id


class FakeUser:
    is_authenticated = True

    def __init__(self, pk: int, username: str) -> None:
        self.pk = pk
        self.username = username


def _request(cookie: bool = False) -> HttpRequest:
    factory = RequestFactory()
    if cookie:
        factory.cookies["sessionid"] = "abc"
    return factory.get("/x")


def test_cached_user_is_used() -> None:
    """A user already loaded during the request gives its id, without any lookup."""
    request = _request()
    request._cached_user = FakeUser(7, "ada")  # type: ignore[attr-defined]
    assert cached_user_id(request) == 7
    assert resolve_user_id(request, get_settings()) == 7


def test_async_cached_user_is_used() -> None:
    """A user loaded with ``auser()`` is found too."""
    request = _request()
    request._acached_user = FakeUser(8, "bob")  # type: ignore[attr-defined]
    assert resolve_user_id(request, get_settings()) == 8


def test_anonymous_cached_user_gives_none() -> None:
    """An anonymous user has no id."""
    request = _request(cookie=True)
    request._cached_user = AnonymousUser()  # type: ignore[attr-defined]
    assert resolve_user_id(request, get_settings()) is None


def test_no_auth_middleware_gives_none() -> None:
    """Without AuthenticationMiddleware (no ``auser``) nothing is looked up."""
    request = _request(cookie=True)
    assert resolve_user_id(request, get_settings()) is None


def test_no_session_cookie_never_evaluates_user() -> None:
    """Without a session cookie request.user is never evaluated."""
    request = _request()
    touched: list[bool] = []

    class Exploding:
        @property
        def is_authenticated(self) -> bool:
            touched.append(True)
            raise AssertionError("the user must not be loaded")

    # As AuthenticationMiddleware installs it: a lazy object, loaded on first use.
    request.user = SimpleLazyObject(Exploding)  # type: ignore[assignment]
    request.auser = lambda: None  # type: ignore[attr-defined]
    assert resolve_user_id(request, get_settings()) is None
    assert touched == []


def test_session_cookie_alone_never_evaluates_user() -> None:
    """By default a session cookie is not a reason to load the user: the view did not ask."""
    request = _request(cookie=True)
    request.user = SimpleLazyObject(lambda: FakeUser(9, "cy"))  # type: ignore[assignment]
    request.auser = lambda: None  # type: ignore[attr-defined]
    assert resolve_user_id(request, get_settings()) is None
    assert request.user._wrapped is empty  # type: ignore[attr-defined]


@override_settings(LANTERN={"LOAD_USER": True})
def test_session_cookie_loads_the_user_with_load_user() -> None:
    """With ``LOAD_USER``, a session cookie and AuthenticationMiddleware the user is loaded."""
    request = _request(cookie=True)
    request.user = SimpleLazyObject(lambda: FakeUser(9, "cy"))  # type: ignore[assignment]
    request.auser = lambda: None  # type: ignore[attr-defined]
    assert resolve_user_id(request, get_settings()) == 9


@override_settings(LANTERN={"USER_ID_ATTRIBUTE": "username"})
def test_user_id_attribute_is_configurable() -> None:
    """USER_ID_ATTRIBUTE picks which attribute identifies the user."""
    request = _request()
    request._cached_user = FakeUser(10, "dee")  # type: ignore[attr-defined]
    assert resolve_user_id(request, get_settings()) == "dee"


@override_settings(LANTERN={"LOAD_USER": True})
async def test_aresolve_uses_auser() -> None:
    """The async twin awaits ``request.auser()`` when a session cookie came in."""
    request = _request(cookie=True)
    calls: list[bool] = []

    async def auser() -> Any:
        calls.append(True)
        return FakeUser(11, "eve")

    request.auser = auser  # type: ignore[attr-defined]
    assert await aresolve_user_id(request, get_settings()) == 11
    assert calls == [True]


async def test_aresolve_without_cookie_never_calls_auser() -> None:
    """The async twin does not call ``auser()`` for a request without a session cookie."""
    request = _request()

    async def auser() -> Any:
        raise AssertionError("must not be called")

    request.auser = auser  # type: ignore[attr-defined]
    assert await aresolve_user_id(request, get_settings()) is None


@pytest.mark.parametrize("attr", ["_cached_user", "_acached_user"])
async def test_aresolve_prefers_the_cached_user(attr: str) -> None:
    """The async twin uses an already loaded user without awaiting anything."""
    request = _request(cookie=True)
    setattr(request, attr, FakeUser(12, "fay"))

    async def auser() -> Any:
        raise AssertionError("must not be called")

    request.auser = auser  # type: ignore[attr-defined]
    assert await aresolve_user_id(request, get_settings()) == 12
