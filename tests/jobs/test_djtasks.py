"""django.tasks integration in-process: context per run, the task line, metrics, the carried id."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib.util import find_spec
from types import SimpleNamespace
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from prometheus_client import REGISTRY

from django_lantern import _errors as errors
from django_lantern.context import RequestContext, current, get_request_id
from django_lantern.jobs import _djtasks as djtasks
from django_lantern.middleware import LanternMiddleware
from tests.conftest import LogCapture
from tests.jobs import djtasks_jobs as jobs

FRAMEWORK = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"default": {"BACKEND": f"{FRAMEWORK}.backends.immediate.ImmediateBackend"}}
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def failures(task: str) -> float:
    return REGISTRY.get_sample_value("lantern_tasks_total", {"task": task, "outcome": "failure"}) or 0.0


@contextlib.contextmanager
def bound(request_id: str) -> Iterator[None]:
    token = current.set(RequestContext(request_id, "GET", "/x", None))
    try:
        yield
    finally:
        current.reset(token)


def task_lines(logs: LogCapture) -> list[dict[str, Any]]:
    return logs.by_logger("lantern.task")


def test_receivers_are_connected_once() -> None:
    """Connecting again (another ready()) adds no second receiver: one line per task."""
    assert FRAMEWORK + ".signals" in djtasks.connect()
    djtasks.connect()


@override_settings(TASKS=IMMEDIATE)
def test_a_task_run_in_the_request_keeps_its_id(logs: LogCapture) -> None:
    """The immediate backend runs the task inside the request: its lines and the
    task line carry the request's id; the request's context is back afterwards."""
    after: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        jobs.record.enqueue(note="inline")
        after.append(get_request_id())
        return HttpResponse("ok")

    LanternMiddleware(view)(RequestFactory().get("/x", HTTP_X_REQUEST_ID="inline-req-1"))
    (own,) = logs.by_logger("tests.djtasks")
    assert own["request_id"] == "inline-req-1"
    assert own["task_name"] == "tests.jobs.djtasks_jobs.record"
    (line,) = task_lines(logs)
    assert (line["request_id"], line["outcome"], line["level"]) == ("inline-req-1", "success", "info")
    assert after == ["inline-req-1"]
    assert get_request_id() == "-"


@override_settings(TASKS=IMMEDIATE)
def test_a_failing_task_is_one_error_line_and_counted(logs: LogCapture) -> None:
    """A task that raises: one ERROR task line with the exception, one more failure counted."""
    before = failures("tests.jobs.djtasks_jobs.explode")
    jobs.explode.enqueue()
    (line,) = task_lines(logs)
    assert line["level"] == "error"
    assert line["outcome"] == "failure"
    assert line["error_type"] == "ValueError"
    assert failures("tests.jobs.djtasks_jobs.explode") == before + 1


@override_settings(TASKS=IMMEDIATE)
def test_outside_a_request_each_run_has_its_own_id(logs: LogCapture) -> None:
    """With nothing bound, every run gets a fresh id, and nothing stays bound after it."""
    jobs.record.enqueue(note="a")
    jobs.record.enqueue(note="b")
    ids = [line["request_id"] for line in task_lines(logs)]
    assert len(ids) == 2 and len(set(ids)) == 2 and "-" not in ids
    assert get_request_id() == "-"


@pytest.mark.django_db
@override_settings(TASKS=DATABASE)
def test_enqueue_stores_the_id_beside_the_arguments() -> None:
    """The database backend's row carries the id under its own key; the task's
    arguments are unchanged, and nothing is stored outside a context."""
    from django_tasks_db.models import DBTaskResult

    with bound("enqueuing-req-7"):
        inside = jobs.record.enqueue(note="stored")
    outside = jobs.record.enqueue(note="plain")
    row = DBTaskResult.objects.get(id=inside.id)
    assert row.args_kwargs[djtasks.CARRIER_KEY] == {"request_id": "enqueuing-req-7"}
    assert row.task_result.kwargs == {"note": "stored"}
    assert row.task_result.args == []
    assert djtasks.carried_request_id(row.task_result) == "enqueuing-req-7"
    assert djtasks.CARRIER_KEY not in DBTaskResult.objects.get(id=outside.id).args_kwargs


@pytest.mark.parametrize("value", ["bad id", "x" * 129, "a\nrequest_id=forged", 42, ["list"]])
def test_a_hostile_carried_id_is_rejected(value: Any) -> None:
    """The stored id is data: one that fails request-id validation is not bound."""
    task_result = SimpleNamespace(db_result=SimpleNamespace(args_kwargs={"lantern": {"request_id": value}}))
    assert djtasks.carried_request_id(task_result) is None


def test_broken_task_results_never_raise() -> None:
    """A task result the receivers cannot read is counted as an internal error, not raised."""
    before = errors.counts.get("tasks_finished", 0)
    djtasks.on_task_started(sender=None, task_result=object())
    djtasks.on_task_finished(sender=None, task_result=object())
    assert errors.counts.get("tasks_finished", 0) == before + 1
    assert get_request_id() == "-"


def test_a_stored_task_without_an_id_runs_under_a_fresh_one() -> None:
    """A row from the database with no carried id gets a new id, not the id of the
    context around the worker (the db_worker command's); an in-process backend keeps it."""
    stored = SimpleNamespace(db_result=SimpleNamespace(args_kwargs={"args": [], "kwargs": {}}))
    with bound("worker-command-id"):
        fresh = djtasks.run_request_id(stored)
        assert fresh is not None and fresh != "worker-command-id"
        assert djtasks.run_request_id(SimpleNamespace()) is None


@pytest.mark.django_db(transaction=True)
@override_settings(TASKS=DATABASE)
async def test_async_enqueue_stores_the_id_too(close_thread_connections: None) -> None:
    """``aenqueue`` inserts the row in a worker thread; the context goes with it."""
    from django_tasks_db.models import DBTaskResult

    with bound("async-enqueuer-3"):
        result = await jobs.record.aenqueue(note="async")
    row = await DBTaskResult.objects.aget(id=result.id)
    assert row.args_kwargs[djtasks.CARRIER_KEY] == {"request_id": "async-enqueuer-3"}
