"""The Celery hooks in-process (no broker): headers, binding, the task line, metrics, fail safety."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from django_lantern import bind
from django_lantern import celery as lantern_celery
from django_lantern.conf import build_settings
from django_lantern.context import get_context, get_request_id
from django_lantern.metrics import _tasks as task_metrics
from tests.conftest import LogCapture
from tests.helpers.integrations import SentryEndpoint, flush_sentry
from tests.helpers.sinks import five_formats

logger = logging.getLogger("tests.celery")


def _task(name: str = "app.do", **request: Any) -> SimpleNamespace:
    fields = {"id": "tid-1", "parent_id": None, "root_id": "tid-1", "retries": 0, "eta": None, "headers": None}
    return SimpleNamespace(name=name, request=SimpleNamespace(**{**fields, **request}))


def _count(task: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("lantern_tasks_total", {"task": task, "outcome": outcome}) or 0.0


def _run(task: SimpleNamespace, state: str = "SUCCESS", exc: BaseException | None = None) -> str:
    lantern_celery.on_prerun(task=task, task_id=task.request.id)
    rid = get_request_id()
    logger.info("inside the task")
    if exc is not None:
        lantern_celery.on_failure(sender=task, exception=exc)
    lantern_celery.on_postrun(task=task, state=state)
    return rid


def test_publishing_inside_a_bind_adds_the_id_and_time() -> None:
    """Inside a context the headers get its id and the publish time; outside, only the time."""
    headers: dict[str, Any] = {}
    with bind(request_id="pub-1"):
        lantern_celery.on_before_publish(headers=headers)
    assert headers["lantern_request_id"] == "pub-1"
    assert abs(headers["lantern_published_at"] - time.time()) < 60
    outside: dict[str, Any] = {}
    lantern_celery.on_before_publish(headers=outside)
    assert "lantern_request_id" not in outside and "lantern_published_at" in outside


def test_an_explicit_header_is_kept_and_the_time_is_refreshed() -> None:
    """A header set by the caller wins; the publish time is always this publish's (retries republish)."""
    headers: dict[str, Any] = {"lantern_request_id": "explicit", "lantern_published_at": 1.0}
    with bind(request_id="ambient"):
        lantern_celery.on_before_publish(headers=headers)
    assert headers["lantern_request_id"] == "explicit" and headers["lantern_published_at"] > 1.0


def test_a_run_is_bound_and_writes_one_task_line(logs: LogCapture) -> None:
    """A run logs the publisher's id and task ids, then one task line; the context is gone afterwards."""
    task = _task(lantern_request_id="req-7", lantern_published_at=time.time() - 2, retries=2)
    before = _count("app.do", "success")
    assert _run(task) == "req-7"
    inside = next(line for line in logs.parsed() if line["message"] == "inside the task")
    assert (inside["task_id"], inside["task_name"], inside["root_task_id"]) == ("tid-1", "app.do", "tid-1")
    assert inside["parent_task_id"] == "-"
    (line,) = logs.by_logger("lantern.task")
    assert line["level"] == "info" and line["request_id"] == "req-7" and line["retries"] == 2
    assert line["outcome"] == "success" and line["task"] == "app.do" and line["queue_wait_ms"] >= 2000
    assert line["message"].startswith("task=app.do outcome=success duration_ms=")
    assert _count("app.do", "success") == before + 1
    assert get_context() is None


def test_a_failure_is_an_error_line_with_the_exception_type(logs: LogCapture) -> None:
    """A failed run is one ERROR task line naming the exception type, counted as a failure."""
    before = _count("app.fails", "failure")
    _run(_task("app.fails"), "FAILURE", KeyError("x"))
    (line,) = logs.by_logger("lantern.task")
    assert line["level"] == "error" and line["outcome"] == "failure" and line["error_type"] == "KeyError"
    assert _count("app.fails", "failure") == before + 1


def test_no_id_in_the_message_means_a_fresh_one() -> None:
    """A message without the header (beat) runs under a fresh id."""
    rid = _run(_task())
    assert len(rid) == 32 and rid != "-"


def test_an_invalid_id_in_the_message_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    """A header id that could forge a field is replaced and warned about by length only."""
    rid = _run(_task(lantern_request_id="a b=c"))
    assert len(rid) == 32
    assert "invalid request id (length 5) from a task message" in caplog.text


def test_headers_dict_is_read_too() -> None:
    """The id is also found in ``request.headers`` (how some Celery versions deliver custom headers)."""
    assert _run(_task(headers={"lantern_request_id": "from-headers"})) == "from-headers"


@pytest.mark.parametrize("published", ["yesterday", float("nan"), True, None, float("inf")])
def test_queue_wait_ignores_a_bad_timestamp(published: object) -> None:
    """A publish time that is not a finite number gives no queue wait."""
    request = SimpleNamespace(lantern_published_at=published, eta=None, headers=None)
    assert lantern_celery.queue_wait_seconds(request, time.time()) is None


def test_queue_wait_counts_from_the_eta_and_never_negative() -> None:
    """A countdown is not queueing: the wait counts from the ETA; a clock ahead gives 0, not a negative."""
    eta = datetime.fromtimestamp(1_000_100, tz=UTC).isoformat()
    request = SimpleNamespace(lantern_published_at=1_000_000.0, eta=eta, headers=None)
    assert lantern_celery.queue_wait_seconds(request, 1_000_103.0) == pytest.approx(3.0)
    ahead = SimpleNamespace(lantern_published_at=1_000_100.0, eta=None, headers=None)
    assert lantern_celery.queue_wait_seconds(ahead, 1_000_000.0) == 0.0  # within the clock-skew allowance
    forged = SimpleNamespace(lantern_published_at=2_000_000.0, eta=None, headers=None)
    assert lantern_celery.queue_wait_seconds(forged, 1_000_000.0) is None  # far ahead: not a clock, a forgery


def test_a_run_inside_a_request_context_keeps_its_id() -> None:
    """An eager run inside a bind (or request) keeps that id and adds the task fields."""
    with bind(request_id="outer"):
        rid = _run(_task())
        assert get_request_id() == "outer"
    assert rid == "outer"


def test_task_names_past_the_cap_fold_into_overflow() -> None:
    """Task names past METRICS_MAX_LABEL_SETS are counted under ``<overflow>``."""
    with override_settings(LANTERN={"METRICS_MAX_LABEL_SETS": 1}):
        task_metrics.task_finished("cap.first", "success", 0.1, None)
        task_metrics.task_finished("cap.second", "success", 0.1, None)
        task_metrics.task_finished("cap.first", "weird", 0.1, 0.5)
        assert _count("cap.first", "success") == 1
        assert _count("<overflow>", "success") == 1
        assert _count("cap.first", "other") == 1


def test_task_names_past_the_cap_are_counted_as_overflow() -> None:
    """Each run folded into ``<overflow>`` counts in lantern_label_overflow_total, as the HTTP families' do."""
    overflow = {"family": "lantern_tasks"}
    with override_settings(LANTERN={"METRICS_MAX_LABEL_SETS": 1}):
        task_metrics.task_finished("cap.first", "success", 0.1, None)
        assert REGISTRY.get_sample_value("lantern_label_overflow_total", overflow) == 0
        task_metrics.task_finished("cap.second", "success", 0.1, None)
        task_metrics.task_finished("cap.third", "failure", 0.1, None)
        task_metrics.task_finished("cap.second", "success", 0.1, None)
        task_metrics.task_finished("cap.first", "success", 0.1, None)
        assert REGISTRY.get_sample_value("lantern_label_overflow_total", overflow) == 3
        assert _count("<overflow>", "success") == 2


def test_metrics_can_be_turned_off() -> None:
    """With METRICS_ENABLED false nothing is recorded."""
    with override_settings(LANTERN={"METRICS_ENABLED": False}):
        task_metrics.task_finished("off.task", "success", 0.1, None)
    assert _count("off.task", "success") == 0


def test_a_broken_hook_never_raises_and_is_counted() -> None:
    """An error inside a hook is reported as an internal error, never raised into Celery."""

    class Exploding:
        @property
        def request(self) -> Any:
            raise RuntimeError("boom")

    for hook in ("prerun", "postrun", "failure"):
        where = {"where": f"celery_{hook}"}
        before = REGISTRY.get_sample_value("lantern_internal_errors_total", where) or 0.0
        if hook == "failure":
            lantern_celery.on_failure(sender=Exploding(), exception=ValueError())
        else:
            getattr(lantern_celery, f"on_{hook}")(task=Exploding(), task_id="x")
        assert REGISTRY.get_sample_value("lantern_internal_errors_total", where) == before + 1
    assert get_context() is None


def test_instrument_is_idempotent() -> None:
    """Instrumenting twice connects each receiver once."""
    from celery import Celery, signals

    app = Celery("idempotent")
    assert lantern_celery.instrument(app) is app
    count = len(signals.task_prerun.receivers)
    lantern_celery.instrument(app)
    lantern_celery.instrument(Celery("another"))
    assert len(signals.task_prerun.receivers) == count


def test_eager_apply_runs_the_hooks(logs: LogCapture) -> None:
    """A real Celery task applied eagerly inside a bind logs the bind's id and one task line."""
    from celery import Celery

    app = lantern_celery.instrument(Celery("eager"))

    @app.task(name="eager.add")
    def add(a: int, b: int) -> int:
        logger.info("adding")
        return a + b

    with bind(request_id="eager-req"):
        assert add.apply((2, 3)).get() == 5
    adding = next(line for line in logs.parsed() if line["message"] == "adding")
    assert adding["request_id"] == "eager-req" and adding["task_name"] == "eager.add"
    (line,) = logs.by_logger("lantern.task")
    assert line["outcome"] == "success" and line["queue_wait_ms"] is None


def test_task_settings_are_validated() -> None:
    """TASK_METRICS_PORT must be a port, TASK_LOGGER a name, COMMAND_REQUEST_ID a bool."""
    _, errors = build_settings({"TASK_METRICS_PORT": 70000, "TASK_LOGGER": "", "COMMAND_REQUEST_ID": "yes"})
    text = " ".join(errors)
    assert "TASK_METRICS_PORT" in text and "TASK_LOGGER" in text and "COMMAND_REQUEST_ID" in text
    built, errors = build_settings({"TASK_METRICS_PORT": 9808, "COMMAND_REQUEST_ID_SKIP": ["shell"]})
    assert not errors and built.task_metrics_port == 9808 and built.command_request_id_skip == {"shell"}


def test_a_failed_tasks_lines_and_event_carry_no_argument_and_no_secret(
    sentry: Any, sentry_endpoint: SentryEndpoint
) -> None:
    """Outside any request: Celery's failure line (with its ``data`` extra) and the task line, in
    all five formats, and the Sentry event show neither the task's arguments nor a token or a
    database value quoted in the exception; the message goes through the same scrubber as a request's."""
    from celery import Celery

    assert sentry()
    app = lantern_celery.instrument(Celery("eager-secrets"))
    # Built at run time: Sentry also sends the source lines around each frame.
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    password, email = "plain-password-" + str(71), "maria@" + "example.org"

    @app.task(name="eager.reset")
    def reset(user_id: int, new_password: str) -> None:
        # No local holds the values: Sentry sends every frame's locals.
        raise RuntimeError(
            "upstream rejected " + "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
            "\nDETAIL:  Key (email)=(" + "maria@" + "example.org" + ") already exists."
        )

    with five_formats() as lines:
        reset.apply((7, password)).get(propagate=False)
    flush_sentry()
    failure = next(json.loads(line) for line in lines.lines["json"] if '"celery.app.trace"' in line)
    assert failure["data"]["args"] == failure["data"]["kwargs"] == "[redacted]"
    assert "Key (email)=([redacted])" in failure["exc_message"]
    (event,) = sentry_endpoint.events()
    assert "upstream rejected [redacted]" in event["exception"]["values"][-1]["value"]
    for where, text in [("the log lines", lines.everything()), ("Sentry", sentry_endpoint.everything())]:
        for secret in (password, token, email):
            assert secret not in text, f"{secret} reached {where}"
