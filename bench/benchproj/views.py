"""The small JSON view every configuration serves."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

PAYLOAD = {"id": 42, "title": "Write the benchmark", "done": False, "tags": ["ops", "perf"], "org": "acme"}


def data(request: HttpRequest) -> JsonResponse:
    return JsonResponse(PAYLOAD)


def item(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({**PAYLOAD, "id": pk})
