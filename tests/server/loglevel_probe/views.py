"""``/probe/``: one DEBUG line on ``myapp.probe``; the answer is the worker's pid."""

from __future__ import annotations

import os
import time

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from tests.server.loglevel_probe import probe


def probe_view(request: HttpRequest) -> HttpResponse:
    probe.debug("probe debug line", extra={"pid": os.getpid()})
    time.sleep(0.02)  # keeps this worker busy a moment, so that concurrent requests spread over the workers
    return HttpResponse(str(os.getpid()), content_type="text/plain")


urlpatterns = [path("", include("config.urls")), path("probe/", probe_view)]
