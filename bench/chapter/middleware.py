"""Listing 21.4.2: ``config/middleware.py`` (``RequestIdMiddleware``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from chapter.request_context import set_request_id


class RequestIdMiddleware:
    header_name = "X-Request-Id"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(self.header_name)
        request_id = incoming or uuid.uuid4().hex

        setattr(request, "request_id", request_id)  # noqa: B010 (the chapter's spelling)
        set_request_id(request_id)

        try:
            response = self.get_response(request)
        finally:
            # Clear after response to avoid leaking context to other requests
            set_request_id(None)

        response[self.header_name] = request_id
        return response
