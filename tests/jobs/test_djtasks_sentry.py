"""A failing django.tasks task is one Sentry event, tagged with the enqueuing request's id."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from django_lantern.middleware import LanternMiddleware
from tests.helpers.integrations import SentryEndpoint, flush_sentry
from tests.jobs import djtasks_jobs as jobs

FRAMEWORK = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"default": {"BACKEND": f"{FRAMEWORK}.backends.immediate.ImmediateBackend"}}


@override_settings(TASKS=IMMEDIATE)
def test_a_failing_task_is_one_event_with_the_request_id(sentry: Any, sentry_endpoint: SentryEndpoint) -> None:
    """The framework's exception line makes the event; the ERROR task line does not make a second."""
    assert sentry()

    def view(request: HttpRequest) -> HttpResponse:
        jobs.explode.enqueue()
        return HttpResponse("queued")

    LanternMiddleware(view)(RequestFactory().get("/x", HTTP_X_REQUEST_ID="sentry-task-req-1"))
    flush_sentry()
    events = sentry_endpoint.events()
    assert len(events) == 1, [e.get("logger") for e in events]
    assert events[0]["tags"]["request_id"] == "sentry-task-req-1"
    assert events[0]["logger"] == FRAMEWORK
