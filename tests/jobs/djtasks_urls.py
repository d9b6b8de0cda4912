"""Views that enqueue the test tasks inside a request (served by a real gunicorn)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from tests.jobs import djtasks_jobs as jobs


def enqueue_ok(request: HttpRequest) -> JsonResponse:
    result = jobs.record.enqueue(note="from-web")
    return JsonResponse({"id": str(result.id)})


def enqueue_repeat(request: HttpRequest) -> JsonResponse:
    result = jobs.repeat.enqueue(int(request.GET["times"]))
    return JsonResponse({"id": str(result.id)})


def enqueue_fail(request: HttpRequest) -> JsonResponse:
    result = jobs.explode.enqueue()
    return JsonResponse({"id": str(result.id)})


def enqueue_queries(request: HttpRequest, n: int) -> JsonResponse:
    result = jobs.queries.enqueue(n)
    return JsonResponse({"id": str(result.id)})


urlpatterns = [
    path("", include("django_lantern.urls")),
    path("enqueue/ok/", enqueue_ok),
    path("enqueue/fail/", enqueue_fail),
    path("enqueue/queries/<int:n>/", enqueue_queries),
    path("enqueue/repeat/", enqueue_repeat),
]
