"""No query of lantern's own: the user id comes from what the view loaded.

Each view is requested twice with a logged-in session cookie, through the
full middleware stack with and without ``LanternMiddleware``; the queries
Django runs must be the same. Runs on SQLite, and on PostgreSQL when
``DATABASE_URL`` points there (CI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.conftest import CORE_URLS, LogCapture

pytestmark = [pytest.mark.urls(CORE_URLS), pytest.mark.django_db]

LANTERN = "django_lantern.middleware.LanternMiddleware"

# (path, whether the view reads the user, whether it reads the session)
VIEWS = [
    ("/ok/", False, False),
    ("/touch-user/", True, True),
    ("/read-session/", False, True),
    ("/async-plain/", False, False),
    ("/async-touch-user/", True, True),
]


@pytest.fixture
def logged_in() -> Iterator[tuple[Client, int]]:
    user = get_user_model().objects.create_user("query-counter", password="not-used-here")
    client = Client()
    client.force_login(user)
    yield client, user.pk


def _queries(logged_in: Client, path: str, middleware: list[str]) -> list[str]:
    # A client loads the middleware chain once: a new one for each list, same session.
    client = Client()
    client.cookies = logged_in.cookies
    with override_settings(MIDDLEWARE=middleware), CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    # The statements without their literals: the session's expiry check quotes the clock.
    return [re.sub(r"'[^']*'", "?", q["sql"]) for q in queries.captured_queries]


@pytest.mark.parametrize(("path", "reads_user", "reads_session"), VIEWS)
def test_lantern_adds_no_query(logged_in: tuple[Client, int], path: str, reads_user: bool, reads_session: bool) -> None:
    """The same statements run with lantern as without it, whatever the view reads."""
    client, _ = logged_in
    without = [m for m in settings.MIDDLEWARE if m != LANTERN]
    bare = _queries(client, path, without)
    observed = _queries(client, path, [LANTERN, *without])
    assert observed == bare
    # The case that matters: a view that reads nothing costs nothing, session cookie or not.
    if not reads_session:
        assert observed == []


@pytest.mark.parametrize(("path", "reads_user", "reads_session"), VIEWS)
def test_user_id_comes_from_what_the_view_loaded(
    logged_in: tuple[Client, int], logs: LogCapture, path: str, reads_user: bool, reads_session: bool
) -> None:
    """The id is logged when the view loaded the user or the session, and is null otherwise."""
    client, pk = logged_in
    client.get(path)
    (record,) = logs.access()
    expected = pk if (reads_user or reads_session) else "-"
    assert record.user_id == expected  # type: ignore[attr-defined]


@override_settings(LANTERN={"LOAD_USER": True})
def test_load_user_restores_the_lookup(logged_in: tuple[Client, int], logs: LogCapture) -> None:
    """``LOAD_USER`` loads the session and the user for the id: the documented cost, two queries."""
    client, pk = logged_in
    with CaptureQueriesContext(connection) as queries:
        client.get("/ok/")
    (record,) = logs.access()
    assert record.user_id == pk  # type: ignore[attr-defined]
    assert len(queries.captured_queries) == 2
