"""The example's URLs plus a view whose statement stays in pg_stat_activity while it sleeps."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as example_urlpatterns


def sleep(request: HttpRequest, ms: int) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [ms / 1000])
    return HttpResponse("slept")


urlpatterns = [path("sqlc/sleep/<int:ms>/", sleep), *example_urlpatterns]
