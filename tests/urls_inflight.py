"""Views that stay in flight until a test lets them go, for the in-flight registry and the thread dump."""

from __future__ import annotations

import asyncio
import threading

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

# Set by each view once it runs; the view returns once ``release`` is set.
entered = threading.Event()
release = threading.Event()
RELEASE_TIMEOUT = 10.0


def wait(request: HttpRequest, n: int) -> HttpResponse:
    entered.set()
    release.wait(RELEASE_TIMEOUT)  # WAIT_LINE: the frame the stacks must name
    return HttpResponse("released")


async def await_release(request: HttpRequest, n: int) -> HttpResponse:
    entered.set()
    for _ in range(int(RELEASE_TIMEOUT / 0.01)):
        if release.is_set():
            break
        await asyncio.sleep(0.01)  # AWAIT_LINE: where the task is suspended
    return HttpResponse("released")


urlpatterns = [
    path("", include("django_lantern.urls")),
    path("wait/<int:n>/", wait),
    path("await/<int:n>/", await_release),
]
