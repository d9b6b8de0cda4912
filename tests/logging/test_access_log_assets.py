"""Static files and the favicon log at DEBUG; Django's 4xx WARNING does not repeat the access line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from tests.conftest import LogCapture


def asset(request: HttpRequest) -> HttpResponse:
    return HttpResponse("body { }", content_type="text/css")


def broken_asset(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("storage down")


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("a page")


urlpatterns = [
    path("static/site.css", asset),
    path("static/broken.css", broken_asset),
    path("media/avatar.png", asset),
    path("favicon.ico", asset),
    path("page/", page),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def access_debug() -> Iterator[None]:
    """The access logger at DEBUG, so that a DEBUG line shows (the default is INFO)."""
    access = logging.getLogger("access")
    before = access.level
    access.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        access.setLevel(before)


def _access_levels(logs: LogCapture) -> list[str]:
    return [record.levelname for record in logs.access()]


@pytest.mark.parametrize(
    "target", ["/static/site.css", "/media/avatar.png", "/favicon.ico", "/static/missing.css", "/favicon.ico?v=2"]
)
def test_static_files_and_the_favicon_log_at_debug(
    client: Client, logs: LogCapture, settings: Any, access_debug: None, target: str
) -> None:
    """Served or missing, a file a page pulls in is one DEBUG access line, never WARNING."""
    settings.MEDIA_URL = "/media/"
    client.get(target)
    assert _access_levels(logs) == ["DEBUG"]


def test_at_the_default_level_static_lines_are_not_written_and_metrics_count_them(
    client: Client, logs: LogCapture
) -> None:
    from prometheus_client import REGISTRY

    def requests() -> float:
        return sum(
            sample.value
            for family in REGISTRY.collect()
            if family.name in ("http_server_requests", "lantern_http_requests")
            for sample in family.samples
            if sample.name.endswith("_total")
        )

    before = requests()
    client.get("/static/site.css")
    client.get("/favicon.ico")
    client.get("/page/")
    assert _access_levels(logs) == ["INFO"]
    assert requests() - before == 3


def test_a_page_and_a_server_error_on_an_asset_keep_their_levels(
    client: Client, logs: LogCapture, access_debug: None
) -> None:
    client.get("/page/")
    Client(raise_request_exception=False).get("/static/broken.css")
    assert _access_levels(logs) == ["INFO", "ERROR"]


def test_a_slow_asset_is_a_warning(client: Client, logs: LogCapture, settings: Any) -> None:
    settings.LANTERN = {"SLOW_REQUEST_MS": 0}
    client.get("/static/site.css")
    assert _access_levels(logs) == ["WARNING"]


def test_a_cdn_static_url_makes_no_local_path_an_asset(client: Client, logs: LogCapture, settings: Any) -> None:
    settings.STATIC_URL = "https://cdn.example.com/static/"
    client.get("/static/site.css")
    assert _access_levels(logs) == ["INFO"]


def test_a_4xx_is_one_line_and_a_5xx_keeps_djangos_error(client: Client, logs: LogCapture) -> None:
    """django.request's "Not Found" WARNING repeats the access line and is dropped; its 5xx ERROR stays."""
    client.get("/no-such-page/")
    Client(raise_request_exception=False).get("/static/broken.css")
    django_request = [r for r in logs.records if r.name == "django.request"]
    assert [(r.levelname, getattr(r, "status_code", None)) for r in django_request] == [("ERROR", 500)]
    assert [(r.levelname, r.status) for r in logs.access()] == [("WARNING", 404), ("ERROR", 500)]
