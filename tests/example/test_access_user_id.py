"""The access line's user_id: from what the view loaded, never at the price of a query of lantern's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import AsyncClient, Client

from tasks.models import Org, Task
from tests.example.logs import ACCESS_LOGGER, records_of

pytestmark = pytest.mark.django_db

# A view that never reads request.user (the home page does: it lists the user's orgs).
PLAIN_VIEW = "/async-echo/"


def _access_user_id(caplog: pytest.LogCaptureFixture) -> Any:
    (record,) = records_of(caplog.records, ACCESS_LOGGER)
    return record.getMessage().rsplit("user_id=", 1)[1]


@pytest.fixture
def load_user(settings: Any) -> None:
    settings.LANTERN = {**getattr(settings, "LANTERN", {}), "LOAD_USER": True}


def test_a_view_that_never_read_the_user_costs_no_query_and_logs_no_user(
    client: Client, logs: pytest.LogCaptureFixture, owner: Any, django_assert_num_queries: Any
) -> None:
    """Logged in, on a view that reads neither the session nor the user: no query, user_id None."""
    client.force_login(owner)
    with django_assert_num_queries(0):
        assert client.get(PLAIN_VIEW).status_code == 200
    assert _access_user_id(logs) == "None"


@pytest.mark.usefixtures("load_user")
def test_authenticated_request_logs_user_id_for_a_view_that_never_read_the_user(
    client: Client, logs: pytest.LogCaptureFixture, owner: Any
) -> None:
    """With LOAD_USER, a view that never touches request.user, yet its access line names the logged-in user."""
    client.force_login(owner)
    response = client.get(PLAIN_VIEW)
    assert response.status_code == 200
    assert _access_user_id(logs) == str(owner.pk)
    (record,) = records_of(logs.records, ACCESS_LOGGER)
    assert record.user_id == owner.pk  # type: ignore[attr-defined]


def test_authenticated_403_logs_user_id(
    client: Client, logs: pytest.LogCaptureFixture, org: Org, member: Any, task: Task
) -> None:
    """A request that ends in PermissionDenied still logs who made it."""
    client.force_login(member)
    client.get(f"/orgs/{org.slug}/tasks/{task.pk}/edit/")
    assert _access_user_id(logs) == str(member.pk)


def test_anonymous_request_logs_no_user_id(client: Client, logs: pytest.LogCaptureFixture) -> None:
    """An anonymous request is logged with user_id=None."""
    client.get(PLAIN_VIEW)
    assert _access_user_id(logs) == "None"


def test_anonymous_request_without_cookie_does_not_touch_the_session(client: Client) -> None:
    """Without a session cookie, finding the user id neither loads the session nor the user."""
    response = client.get(PLAIN_VIEW)
    request = response.wsgi_request
    assert settings.SESSION_COOKIE_NAME not in request.COOKIES
    assert request.session.accessed is False
    assert "_cached_user" not in request.__dict__


def test_anonymous_request_runs_no_queries(client: Client, django_assert_num_queries: Any) -> None:
    """Serving a plain view to an anonymous visitor costs no database query, access log included."""
    with django_assert_num_queries(0):
        assert client.get(PLAIN_VIEW).status_code == 200


def test_anonymous_request_sets_no_cookie(client: Client) -> None:
    """Logging an anonymous request never creates a session or sets a cookie."""
    response = client.get(PLAIN_VIEW)
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert "Cookie" not in response.headers.get("Vary", "")


def test_stale_session_cookie_logs_no_user_id(client: Client, logs: pytest.LogCaptureFixture) -> None:
    """A session cookie that matches no session is logged as anonymous, not as an error."""
    client.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session-key"
    assert client.get(PLAIN_VIEW).status_code == 200
    assert _access_user_id(logs) == "None"


@pytest.fixture
async def close_async_db_connections() -> AsyncIterator[None]:
    """Close the connection Django's sync_to_async thread opened, so the test database can be dropped."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections", "load_user")
async def test_async_authenticated_request_logs_user_id(
    async_client: AsyncClient, logs: pytest.LogCaptureFixture, django_user_model: Any
) -> None:
    """With LOAD_USER, under ASGI too, the access line of a logged-in request names the user (via
    await request.auser())."""
    user = await django_user_model.objects.acreate(username="async-user")
    await async_client.aforce_login(user)
    response = await async_client.get(PLAIN_VIEW)
    assert response.status_code == 200
    assert _access_user_id(logs) == str(user.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_async_anonymous_request_does_not_touch_the_session(
    async_client: AsyncClient, logs: pytest.LogCaptureFixture
) -> None:
    """Under ASGI an anonymous request without a cookie leaves the session untouched."""
    response = await async_client.get(PLAIN_VIEW)
    assert response.asgi_request.session.accessed is False
    assert _access_user_id(logs) == "None"


def test_login_post_logs_the_user_who_logged_in(client: Client, logs: pytest.LogCaptureFixture, owner: Any) -> None:
    """login() replaces request.user: the login POST's access line names the user it logged in."""
    response = client.post("/accounts/login/", {"username": "olivia", "password": "owner-password"})
    assert response.status_code == 302
    assert _access_user_id(logs) == str(owner.pk)


def test_logout_post_logs_no_user(client: Client, logs: pytest.LogCaptureFixture, owner: Any) -> None:
    """logout() replaces request.user with the anonymous user: the line says None, not the old id."""
    client.force_login(owner)
    client.post("/accounts/logout/")
    assert _access_user_id(logs) == "None"
