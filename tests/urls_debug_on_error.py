"""A test-only URLconf for ``LANTERN["DEBUG_ON_ERROR"]``: views that log at DEBUG, then succeed or fail."""

from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse
from django.urls import path

logger = logging.getLogger("tests.debug_on_error")


def ok(request: HttpRequest) -> HttpResponse:
    logger.debug("looked up order %s", "order-ok-7")
    return HttpResponse("ok")


def fail(request: HttpRequest) -> HttpResponse:
    logger.debug("looked up order %s", "order-fail-7")
    time.sleep(0.02)  # so the flush comes visibly later than the call
    logger.debug("charging card ending %s", "4242")
    raise RuntimeError("payment provider said no")


def unavailable(request: HttpRequest) -> HttpResponse:
    logger.debug("upstream answered %d", 503)
    return HttpResponse("try later", status=503)


def many(request: HttpRequest) -> HttpResponse:
    for i in range(250):
        logger.debug("row %d", i)
    raise RuntimeError("too many rows")


def secret(request: HttpRequest) -> HttpResponse:
    logger.debug("calling upstream with password=%s", "hunter2-debug-secret")
    raise RuntimeError("upstream refused")


def handled(request: HttpRequest) -> HttpResponse:
    try:
        raise KeyError("missing-key-7")
    except KeyError:
        logger.debug("falling back", exc_info=True)
    logger.error("giving up")
    return HttpResponse("handled", status=200)


async def aok(request: HttpRequest) -> HttpResponse:
    logger.debug("async looked up %s", "order-aok-7")
    return HttpResponse("ok")


async def afail(request: HttpRequest) -> HttpResponse:
    logger.debug("async looked up %s", "order-afail-7")
    raise RuntimeError("async payment provider said no")


urlpatterns = [
    path("debug/ok/", ok),
    path("debug/fail/", fail),
    path("debug/unavailable/", unavailable),
    path("debug/many/", many),
    path("debug/secret/", secret),
    path("debug/handled/", handled),
    path("debug/aok/", aok),
    path("debug/afail/", afail),
]
