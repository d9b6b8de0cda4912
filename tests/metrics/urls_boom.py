"""A URLconf with a view that raises, for the exception and 5xx metrics, one that runs a known
number of queries, for the query counts, and one that uses the cache, for the cache metrics
(readiness probes' own cache operations are not counted)."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from django_lantern.health.checks import CheckFailed


class BoomError(RuntimeError):
    pass


def boom(request: HttpRequest) -> HttpResponse:
    raise BoomError("boom")


QUERIES_PER_REQUEST = 3


def queries(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        for i in range(QUERIES_PER_REQUEST):
            cursor.execute("SELECT %s", [i])
    return HttpResponse("ok")


def cached(request: HttpRequest) -> HttpResponse:
    """A miss the first time in each worker, then hits."""
    value = cache.get("lantern-test-cached")
    if value is None:
        cache.set("lantern-test-cached", "1", timeout=300)
    return HttpResponse("cached" if value else "stored")


def failing_check() -> None:
    raise CheckFailed("down for the test")


urlpatterns = [
    path("boom/", boom),
    path("queries/", queries),
    path("cached/", cached),
    path("", include("config.urls")),
]
