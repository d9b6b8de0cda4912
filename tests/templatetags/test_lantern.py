"""The request id on pages: the ``{% request_id %}`` tag and the context processor."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings

from django_lantern.context_processors import request_id as request_id_processor
from django_lantern.middleware import LanternMiddleware
from tests.conftest import CORE_URLS


def test_tag_is_a_dash_outside_a_request() -> None:
    """Outside a request the tag renders "-"."""
    assert Template("{% load lantern %}{% request_id %}").render(Context()) == "-"


def test_tag_renders_the_current_id_without_any_context() -> None:
    """Inside a request the tag needs no context at all (Django's 500 page has none)."""

    def view(request: object) -> object:
        from django.http import HttpResponse

        return HttpResponse(Template("{% load lantern %}[{% request_id %}]").render(Context()))

    response = LanternMiddleware(view)(RequestFactory().get("/x", HTTP_X_REQUEST_ID="page-id-1"))  # type: ignore[arg-type]
    assert response.content == b"[page-id-1]"


def test_context_processor_uses_the_request_attribute() -> None:
    """The processor exposes request.request_id as {{ request_id }}."""
    request = RequestFactory().get("/")
    request.request_id = "from-request"  # type: ignore[attr-defined]
    assert request_id_processor(request) == {"request_id": "from-request"}


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_example_error_pages_show_the_request_id() -> None:
    """The example's 404 and 500 pages quote the same id as the response header."""
    client = Client(raise_request_exception=False)
    not_found = client.get("/no-such-page/", HTTP_X_REQUEST_ID="nf-42")
    assert not_found.status_code == 404 and b"nf-42" in not_found.content
    with override_settings(ROOT_URLCONF=CORE_URLS):
        failed = client.get("/boom/", HTTP_X_REQUEST_ID="boom-42")
    assert failed.status_code == 500 and b"boom-42" in failed.content
