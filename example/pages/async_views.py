"""A small async view, used by the core tests against a real uvicorn.

``/async-echo/?n=<int>`` logs three lines (each with ``n``) around two short
random sleeps, so concurrent requests interleave on the event loop, and
answers with its own request id.
"""

from __future__ import annotations

import asyncio
import logging
import random

from django.http import HttpRequest, JsonResponse
from django.urls import path

logger = logging.getLogger("example.async_echo")


async def async_echo(request: HttpRequest) -> JsonResponse:
    try:
        n = int(request.GET.get("n", "0"))
    except ValueError:
        n = 0
    logger.info("async echo start", extra={"n": n})
    await asyncio.sleep(random.uniform(0, 0.02))
    logger.info("async echo middle", extra={"n": n})
    await asyncio.sleep(random.uniform(0, 0.02))
    logger.info("async echo end", extra={"n": n})
    return JsonResponse({"n": n, "request_id": getattr(request, "request_id", None)})


urlpatterns = [path("async-echo/", async_echo, name="async-echo")]
