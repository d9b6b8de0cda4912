"""The example's URLs plus a view that outlives any server timeout the real-server tests set."""

from __future__ import annotations

import asyncio
import time

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as example_urlpatterns

SLEEP_SECONDS = 10.0


def sleepy(request: HttpRequest, n: int) -> HttpResponse:
    time.sleep(SLEEP_SECONDS)  # SLEEP_LINE: the frame each stack must name
    return HttpResponse("woke up")


async def asleepy(request: HttpRequest, n: int) -> HttpResponse:
    await asyncio.sleep(SLEEP_SECONDS)  # ASLEEP_LINE
    return HttpResponse("woke up")


urlpatterns = [
    path("stuck/<int:n>/", sleepy),
    path("astuck/<int:n>/", asleepy),
    *example_urlpatterns,
]
