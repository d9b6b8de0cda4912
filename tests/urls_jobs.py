"""A view that enqueues a Celery task, for the worker tests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def enqueue(request: HttpRequest) -> HttpResponse:
    from tests.jobs.celery_app import log_and_return

    log_and_return.apply_async(("from-request",), queue=request.GET["queue"])
    return HttpResponse("queued")


urlpatterns = [path("enqueue/", enqueue)]
