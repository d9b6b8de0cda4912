"""``django.tasks`` (Django 6) and the ``django-tasks`` backport (Django 5.2).

Nothing to call: when either framework is importable, ``LanternConfig.ready()``
connects the receivers below, for every backend.

- ``task_started`` binds a log context for the run (``task_id`` and
  ``task_name`` fields, with ``django_lantern.bind()``'s rules): every line
  the task logs carries a request id. A backend that runs the task where it
  was enqueued (``ImmediateBackend``) keeps the enqueuer's id.
- ``task_finished`` writes the task line and counts the task, exactly as for
  Celery (``django_lantern.jobs._task_line``), then unbinds.

Carrying the id to a worker process needs a place in the stored task. For
``django-tasks-db`` (``DatabaseBackend`` + ``manage.py db_worker``, on Django
6 and 5.2 alike) the id is written into the row's ``args_kwargs`` JSON under
a key of its own as the row is inserted (a ``pre_save`` receiver: no extra
query, no race with the worker); the task's ``args`` and ``kwargs`` are read
from their own keys and never see it. The worker validates it like an
incoming header before binding it; a row without one runs under a fresh id
(not the id of the ``db_worker`` command around it). Other backends get the
line and the metrics; their runs bind a fresh id unless the worker process
has a context of its own.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from contextvars import Token
from importlib.util import find_spec
from typing import Any

from django_lantern import request_id as request_ids
from django_lantern._cost import Cost
from django_lantern._errors import report_internal_error
from django_lantern.binding import enter_context
from django_lantern.context import UNKNOWN, UNKNOWN_LABEL, RequestContext, current, get_request_id
from django_lantern.jobs._task_line import FAILURE, SUCCESS, begin_run, record_task
from django_lantern.metrics import _insights as query_insights
from django_lantern.scrubbing import argument_secrets
from django_lantern.sentry._own_lines import quiet_task_line

# The key in django-tasks-db's args_kwargs JSON that holds what we carry.
CARRIER_KEY = "lantern"
SIGNAL_MODULES = ("django.tasks.signals", "django_tasks.signals")

# Runs in progress in this process: task result id -> (context token, start, its cost,
# its query-insights scope). Bounded: a run whose task_finished never came (the worker
# was killed between the signals) must not hold memory forever.
MAX_RUNNING = 1000
_running: dict[str, tuple[Token[RequestContext | None], float, Cost | None, query_insights.Scope | None]] = {}
_lock = threading.Lock()


def _signal_modules() -> list[Any]:
    import importlib

    modules = []
    for name in SIGNAL_MODULES:
        package = name.rsplit(".", 1)[0]
        with contextlib.suppress(ImportError, ValueError):
            if find_spec(package) is not None:
                modules.append(importlib.import_module(name))
    return modules


def connect() -> list[str]:
    """Connect the receivers; returns the signal modules found. Idempotent."""
    from django.apps import apps
    from django.db.models.signals import pre_save

    found = []
    for module in _signal_modules():
        uid = f"django_lantern.jobs._djtasks.{module.__name__}"
        module.task_started.connect(on_task_started, dispatch_uid=uid + ".started")
        module.task_finished.connect(on_task_finished, dispatch_uid=uid + ".finished")
        found.append(module.__name__)
    if apps.is_installed("django_tasks_db"):
        # Models are loaded before any app's ready(), so this import is safe here.
        from django_tasks_db.models import DBTaskResult

        pre_save.connect(stamp_db_result, sender=DBTaskResult, dispatch_uid="django_lantern.jobs._djtasks.stamp")
    if found:
        # A failure is already one Sentry event (the framework logs the
        # exception, inside the run's context): the task line must not be another.
        quiet_task_line()
    return found


# -- enqueue: carry the id into the stored row --------------------------------
def stamp_db_result(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """``pre_save`` of a new ``DBTaskResult``: store the current request id with it."""
    try:
        if raw or not instance._state.adding:
            return
        request_id = get_request_id()
        args_kwargs = instance.args_kwargs
        if request_id == UNKNOWN or not isinstance(args_kwargs, dict):
            return
        instance.args_kwargs = {**args_kwargs, CARRIER_KEY: {"request_id": request_id}}
    except Exception as exc:
        report_internal_error("tasks_enqueue", exc)


def carried_request_id(task_result: Any) -> str | None:
    """The id stored at enqueue, if valid. The row is data: it is checked like a header."""
    db_result = getattr(task_result, "db_result", None)
    carried = getattr(db_result, "args_kwargs", None)
    if not isinstance(carried, dict):
        return None
    value = carried.get(CARRIER_KEY)
    value = value.get("request_id") if isinstance(value, dict) else None
    return request_ids.accept(value, request_ids.TASK_ROW)


# -- run: bind, then log and count ------------------------------------------------
def task_name(task_result: Any) -> str:
    try:
        return str(task_result.task.module_path)
    except Exception:
        return UNKNOWN_LABEL


def run_request_id(task_result: Any) -> str | None:
    """The id a run binds: for a task stored in the database, the carried one (a
    fresh one if none came, not the id of the db_worker command around it);
    None (keep the current context's) for a backend that runs the task where
    it was enqueued."""
    if getattr(task_result, "db_result", None) is None:
        return None
    return carried_request_id(task_result) or request_ids.generate()


def on_task_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    try:
        key = str(task_result.id)
        fields = {"task_id": key[:64], "task_name": task_name(task_result)}
        # Arguments under sensitive names are redacted in every sink while it runs.
        task = getattr(task_result, "task", None)
        secrets = argument_secrets(getattr(task, "func", None), task_result.args, task_result.kwargs)
        token = enter_context(run_request_id(task_result), fields, secrets, own_cost=True)
        begin_run()
        scope = query_insights.begin()
        ctx = current.get()
        with _lock:
            if len(_running) >= MAX_RUNNING:
                _running.clear()
            _running[key] = (token, time.monotonic(), ctx.cost if ctx is not None else None, scope)
    except Exception as exc:
        report_internal_error("tasks_started", exc)


def _seconds(later: Any, earlier: Any) -> float | None:
    try:
        return float((later - earlier).total_seconds())
    except Exception:
        return None


def _queue_wait(task_result: Any) -> float | None:
    """Enqueue (or the run-after time, when later) to start, from the backend's clock."""
    ready_at = task_result.enqueued_at
    run_after = getattr(task_result.task, "run_after", None)
    if ready_at is not None and run_after is not None and run_after > ready_at:
        ready_at = run_after
    started = task_result.started_at
    if started is None or ready_at is None:
        return None
    return _seconds(started, ready_at)


def on_task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    with _lock:
        running = _running.pop(str(getattr(task_result, "id", "")), None)
    try:
        failed = task_result.status == "FAILED"
        duration = (
            time.monotonic() - running[1]
            if running is not None
            else _seconds(task_result.finished_at, task_result.started_at)
        )
        # The backends send task_finished inside their ``except`` block, so the
        # exception itself is at hand; the stored class path is the fallback.
        error_type = None
        if failed:
            exc = sys.exc_info()[1]
            errors = getattr(task_result, "errors", None) or []
            if exc is not None:
                error_type = type(exc).__qualname__
            elif errors:
                error_type = str(errors[-1].exception_class_path).rpartition(".")[2][:200]
        record_task(
            task_name(task_result),
            FAILURE if failed else SUCCESS,
            duration=duration or 0.0,
            queue_wait=_queue_wait(task_result),
            retries=max(len(getattr(task_result, "worker_ids", None) or []) - 1, 0),
            error_type=error_type,
            cost=running[2] if running is not None else None,
        )
    except Exception as exc:
        report_internal_error("tasks_finished", exc)
    finally:
        if running is not None:
            query_insights.end(running[3])  # a run only logs: its result is already stored
            # A token from another thread's context cannot be reset there.
            with contextlib.suppress(ValueError, RuntimeError):
                current.reset(running[0])
