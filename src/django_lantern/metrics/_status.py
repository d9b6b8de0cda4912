"""``/statusz``: what is running, as JSON, for whoever may read ``/metrics``.

The same access rule as ``/metrics`` (``_views.is_allowed``: the bearer token
or an allowed network), the same 403 otherwise, ``Cache-Control: no-store``.
The release is the one ``_release.identity()`` resolved at start-up; the rest
is this process's own facts, so each worker answers for itself.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any

import django
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from django_lantern import __version__
from django_lantern._release import identity
from django_lantern.metrics._process_start import process_start
from django_lantern.metrics._views import forbidden, is_allowed


def status(now: float) -> dict[str, Any]:
    """The view's body at Unix time ``now``."""
    found = identity()
    started = process_start()
    return {
        "release": found.release,
        "version": found.version,
        "commit": found.commit,
        "build_time": found.build_time,
        "environment": found.environment,
        "lantern_version": __version__,
        "python": platform.python_version(),
        "django": django.get_version(),
        "process_start": datetime.fromtimestamp(started, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "uptime_seconds": round(max(now - started, 0.0), 3),
        "pid": os.getpid(),
    }


def status_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.method not in ("GET", "HEAD"):
        response = HttpResponseNotAllowed(["GET", "HEAD"])
    elif not is_allowed(request):
        return forbidden()
    else:
        response = JsonResponse(status(datetime.now(UTC).timestamp()))
        response["Content-Length"] = str(len(response.content))
        if request.method == "HEAD":
            response.content = b""
    response["Cache-Control"] = "no-store"
    return response
