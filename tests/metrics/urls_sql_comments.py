"""Views for the SQL comment tests: each runs queries and says what it ran."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path


def queries(request: HttpRequest, slug: str) -> JsonResponse:
    """Five queries, one with parameters and one batch, in a request whose route has a URL parameter."""
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT 1")
        cursor.execute("SELECT %s", ["a value"])
        cursor.fetchall()
        cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS lantern_sqlc (v integer)")
        cursor.executemany("INSERT INTO lantern_sqlc (v) VALUES (%s)", [(1,), (2,)])
        cursor.execute("SELECT count(*) FROM lantern_sqlc")
        (count,) = cursor.fetchone()
        cursor.execute("DROP TABLE lantern_sqlc")
    return JsonResponse({"inserted": count})


urlpatterns = [path("sqlc/orgs/<slug:slug>/", queries)]
