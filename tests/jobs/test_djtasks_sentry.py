"""A failing django.tasks task is one Sentry event, tagged with the enqueuing request's id."""

from __future__ import annotations

import json
from importlib.util import find_spec
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from django_lantern.middleware import LanternMiddleware
from tests.helpers.integrations import SentryEndpoint, flush_sentry
from tests.helpers.sinks import five_formats
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


@override_settings(TASKS=IMMEDIATE)
def test_a_failed_tasks_lines_and_event_carry_no_argument_and_no_secret(
    sentry: Any, sentry_endpoint: SentryEndpoint
) -> None:
    """Outside any request: the framework's failure line and the task line, in all five formats,
    and the Sentry event show neither the arguments nor a token or database value in the message."""
    assert sentry()
    password = "plain-password-" + str(72)
    with five_formats() as lines:
        jobs.reset_password.enqueue(7, password)
    flush_sentry()
    records = [json.loads(line) for line in lines.lines["json"]]
    failure = next(r for r in records if r["logger"] == FRAMEWORK and r["level"] == "error")
    assert "Key (email)=([redacted])" in failure["stack"] and "upstream rejected [redacted]" in failure["stack"]
    (event,) = sentry_endpoint.events()
    assert "upstream rejected [redacted]" in event["exception"]["values"][-1]["value"]
    token = "xoxb-" + "2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx"
    for where, text in [("the log lines", lines.everything()), ("Sentry", sentry_endpoint.everything())]:
        for secret in (password, token, "maria@" + "example.org"):
            assert secret not in text, f"{secret} reached {where}"
