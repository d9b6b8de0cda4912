"""Views for the ``bind()`` tests: a plain-statement bind and a scoped one inside a request."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import path

from django_lantern import bind

logger = logging.getLogger("tests.binding")


def statement(request: HttpRequest) -> HttpResponse:
    bind(order_id=7)
    logger.info("after the statement bind")
    return HttpResponse("ok")


def scoped(request: HttpRequest) -> HttpResponse:
    with bind(step="charge"):
        logger.info("inside the block")
    logger.info("after the block")
    return HttpResponse("ok")


async def scoped_async(request: HttpRequest) -> HttpResponse:
    async with bind(step="async"):
        logger.info("inside the async block")
    return HttpResponse("ok")


urlpatterns = [
    path("statement/", statement),
    path("scoped/", scoped),
    path("scoped-async/", scoped_async),
]
