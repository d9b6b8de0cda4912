"""Views used only by the real-server system suite (tests/system/).

Mounted under ``/_system/`` by one line in ``config/urls.py``, and empty
unless ``LANTERN_SYSTEM_VIEWS=1``, so a normal run of the example serves none
of them. Each view logs with an ``extra`` sequence number taken from the URL,
which lets the suite check that every log line carries its own request's id.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from django.contrib.auth.models import Permission
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

logger = logging.getLogger("example.system")

MAX_SLEEP = 10.0
MAX_LINES = 200


def log_view(request: HttpRequest, seq: int) -> HttpResponse:
    """Logs twice; ``?sleep=`` (capped) keeps the request in flight for shutdown tests;
    ``?lines=`` (capped) logs that many more lines, to fill a log pipe quickly."""
    logger.info("system view start", extra={"seq": seq})
    try:
        delay = min(float(request.GET.get("sleep", "0")), MAX_SLEEP)
        lines = min(int(request.GET.get("lines", "0")), MAX_LINES)
    except ValueError:
        delay, lines = 0.0, 0
    for line in range(lines):
        logger.info("system view line", extra={"seq": seq, "line": line})
    if delay > 0:
        time.sleep(delay)
    logger.info("system view end", extra={"seq": seq})
    return HttpResponse(f"ok {seq}\n", content_type="text/plain")


def stream_view(request: HttpRequest, seq: int) -> StreamingHttpResponse:
    """A streaming body whose chunks are produced (and logged) after the view returned."""

    def chunks() -> Iterator[bytes]:
        for part in range(3):
            logger.info("system stream chunk", extra={"seq": seq, "chunk": part})
            yield f"chunk {seq} {part}\n".encode()

    logger.info("system stream start", extra={"seq": seq})
    return StreamingHttpResponse(chunks(), content_type="text/plain")


def db_view(request: HttpRequest, seq: int) -> JsonResponse:
    """Reads the database through the ORM (one query)."""
    count = Permission.objects.filter(codename__startswith="view_").count()
    logger.info("system db read", extra={"seq": seq})
    return JsonResponse({"seq": seq, "permissions": count})


def error_view(request: HttpRequest, seq: int) -> HttpResponse:
    """Raises inside a span (when OpenTelemetry is set up): an error event and a span to flush."""
    try:
        from opentelemetry import trace
    except ImportError:
        raise RuntimeError(f"system error {seq}") from None
    with trace.get_tracer("example.system").start_as_current_span("system-error-work"):
        raise RuntimeError(f"system error {seq}")


urlpatterns = (
    [
        path("log/<int:seq>/", log_view, name="system-log"),
        path("stream/<int:seq>/", stream_view, name="system-stream"),
        path("db/<int:seq>/", db_view, name="system-db"),
        path("error/<int:seq>/", error_view, name="system-error"),
    ]
    if os.environ.get("LANTERN_SYSTEM_VIEWS") == "1"
    else []
)
