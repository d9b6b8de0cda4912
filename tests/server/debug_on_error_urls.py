"""The views of tests/urls_debug_on_error.py, and two that enqueue django.tasks runs which log at DEBUG."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from tests import urls_debug_on_error
from tests.jobs import djtasks_jobs as jobs


def enqueue(request: HttpRequest, outcome: str) -> JsonResponse:
    task = jobs.explode_after_debug if outcome == "fail" else jobs.debug_then_succeed
    return JsonResponse({"id": str(task.enqueue().id)})


urlpatterns = [
    path("", include("django_lantern.urls")),
    path("enqueue/<str:outcome>/", enqueue),
    *urls_debug_on_error.urlpatterns,
]
