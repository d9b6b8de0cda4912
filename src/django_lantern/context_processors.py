"""``django_lantern.context_processors.request_id``: ``{{ request_id }}`` in templates."""

from __future__ import annotations

from django.http import HttpRequest

from django_lantern.context import get_request_id

__all__ = ["request_id"]


def request_id(request: HttpRequest) -> dict[str, str]:
    return {"request_id": getattr(request, "request_id", None) or get_request_id()}
