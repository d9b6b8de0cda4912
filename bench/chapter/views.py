"""Listing 21.7.3 and 21.7.4: the chapter's ``/readyz`` with the cache check folded in."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "not_ready", "db": "down"}, status=503)

    try:
        cache.set("readyz", "1", timeout=5)
        cache.get("readyz")
    except Exception:
        return JsonResponse({"status": "not_ready", "cache": "down"}, status=503)

    return JsonResponse({"status": "ready", "db": "ok"})
