"""A URLconf with a view that raises, for the exception and 5xx metrics."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from django_lantern.health.checks import CheckFailed


class BoomError(RuntimeError):
    pass


def boom(request: HttpRequest) -> HttpResponse:
    raise BoomError("boom")


def failing_check() -> None:
    raise CheckFailed("down for the test")


urlpatterns = [
    path("boom/", boom),
    path("", include("config.urls")),
]
