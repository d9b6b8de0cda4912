"""A test-only URLconf for the every-sink tests: database errors that quote a
value, a failure that carries a token, and Django's own password-reset URLs."""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

logger = logging.getLogger("tests.scrubbing.sinks")

# The value each database error must not show. It reaches the table through
# an inline SQL literal in a helper whose frame is gone when the error is
# raised, so only the server's message (and the seeding query's breadcrumb
# and span) can carry it.
DB_VALUE = "ssn-078-05-1120-maria"

_FAILING = {
    "unique": "INSERT INTO lantern_sink (name, note, v) SELECT name, 'x', 'x' FROM lantern_sink",
    "foreign-key": (
        "INSERT INTO lantern_sink (name, note, v, parent) SELECT 'b', 'x', 'x', name || '-gone' FROM lantern_sink"
    ),
    "check": "UPDATE lantern_sink SET note = name",
    "not-null": "UPDATE lantern_sink SET v = NULL",
    "invalid-input": "SELECT name::integer FROM lantern_sink",
}
DB_CASES = tuple(_FAILING)


def _seed() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE lantern_sink (id serial PRIMARY KEY, name text UNIQUE,"
            " note text CHECK (length(note) < 5), v text NOT NULL, parent text REFERENCES lantern_sink (name))"
        )
        cursor.execute(f"INSERT INTO lantern_sink (name, note, v) VALUES ('{DB_VALUE}', 'x', 'x')")


def database_error(request: HttpRequest, case: str) -> HttpResponse:
    statement = _FAILING[case]
    with transaction.atomic():  # a savepoint: the test's own transaction stays usable
        _seed()
        with connection.cursor() as cursor:
            cursor.execute(statement)
    return HttpResponse("unreachable")


def token_failure(request: HttpRequest) -> HttpResponse:
    """A token in a local variable, a log line and the exception message (no key names it)."""
    upstream_reply = request.GET.get("t", "")
    logger.warning("upstream said %s", upstream_reply)
    raise RuntimeError(f"upstream rejected {upstream_reply}")


def item(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"item {pk}")


urlpatterns = [
    path("sinks/items/<int:pk>/", item),
    path("sinks/db/<str:case>/", database_error),
    path("sinks/token/", token_failure),
    path("accounts/", include("django.contrib.auth.urls")),
]
