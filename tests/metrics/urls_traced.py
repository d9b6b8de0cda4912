"""A test-only URLconf for exemplar and query-span tests: views that run known queries."""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

SECRET_LITERAL = "s3cret-literal-4242"
SECRET_PARAM = "s3cret-param-9191"


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("plain")


def queries(request: HttpRequest) -> HttpResponse:
    """One parameterised query, one with inlined literals, one executemany."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s", [SECRET_PARAM])
        cursor.execute(f"SELECT '{SECRET_LITERAL}' AS token, 7321 AS pin")
        cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS lantern_span_t (v varchar(40))")
        cursor.executemany("INSERT INTO lantern_span_t (v) VALUES (%s)", [[SECRET_PARAM], ["b"], ["c"]])
    return HttpResponse("queried")


def failing_query(request: HttpRequest) -> HttpResponse:
    """A query that raises; the view survives it (in a savepoint, so PostgreSQL carries on)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM no_such_table_lantern WHERE v = '{SECRET_LITERAL}'")
    except DatabaseError:
        return HttpResponse("failed as expected")
    return HttpResponse("unexpected success", status=500)


urlpatterns = [
    path("traced/plain/", plain),
    path("traced/queries/", queries),
    path("traced/failing-query/", failing_query),
    path("", include("django_lantern.urls")),
]
