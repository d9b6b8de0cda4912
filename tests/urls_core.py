"""A test-only URLconf for the core tests: small views with known behaviour."""

from __future__ import annotations

import asyncio
import logging
import random

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_GET

from django_lantern.context import get_request_id

logger = logging.getLogger("tests.views")

# Requests seen by views, for tests that inspect them after the response.
seen_requests: list[HttpRequest] = []


def ok(request: HttpRequest) -> HttpResponse:
    seen_requests.append(request)
    logger.info("inside view", extra={"order_id": 42})
    return HttpResponse("ok")


def item(request: HttpRequest, pk: int) -> HttpResponse:
    logger.info("item %s", pk)
    return HttpResponse(f"item {pk}")


def boom(request: HttpRequest) -> HttpResponse:
    logger.info("about to fail")
    raise RuntimeError("kaboom in view")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("nope")


@require_GET
def only_get(request: HttpRequest) -> HttpResponse:
    return HttpResponse("got")


def redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/ok/")


def touch_user(request: HttpRequest) -> HttpResponse:
    logger.info("user is %s", request.user.is_authenticated)
    return HttpResponse("touched")


def read_session(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(len(request.session.keys())))


async def async_touch_user(request: HttpRequest) -> HttpResponse:
    user = await request.auser()  # type: ignore[attr-defined]
    return HttpResponse(str(user.is_authenticated))


def exposes(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("cors")
    response["Access-Control-Expose-Headers"] = request.GET.get("existing", "X-Custom")
    return response


def current_id(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"request_id": get_request_id(), "attribute": request.request_id})  # type: ignore[attr-defined]


async def async_echo(request: HttpRequest) -> JsonResponse:
    # Yield to the loop a random number of times so concurrent requests interleave.
    n = int(request.GET.get("n", "0"))
    logger.info("async start", extra={"n": n})
    await asyncio.sleep(random.uniform(0, 0.01))
    logger.info("async middle", extra={"n": n})
    await asyncio.sleep(random.uniform(0, 0.01))
    logger.info("async end", extra={"n": n})
    return JsonResponse({"n": n, "request_id": get_request_id()})


async def async_plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async ok")


async def async_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("async kaboom")


urlpatterns = [
    path("", include("django_lantern.urls")),
    path("ok/", ok),
    path("items/<int:pk>/", item),
    path("boom/", boom),
    path("forbidden/", forbidden),
    path("only-get/", only_get),
    path("redirect/", redirect),
    path("touch-user/", touch_user),
    path("read-session/", read_session),
    path("async-touch-user/", async_touch_user),
    path("exposes/", exposes),
    path("current-id/", current_id),
    path("async-echo/", async_echo),
    path("async-plain/", async_plain),
    path("async-boom/", async_boom),
]
