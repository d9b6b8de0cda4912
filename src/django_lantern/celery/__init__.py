"""Celery: request ids across the queue, one task line per run, task metrics.

``instrument(app)`` (idempotent) connects Celery's signals:

- publishing (``before_task_publish``, in the web process or in a task): the
  current request id goes into the message headers (``lantern_request_id``)
  with the publish time (``lantern_published_at``) and, when tracing is on,
  ``traceparent``;
- each run on the worker (``task_prerun`` ... ``task_postrun``) is bound to a
  context: the publisher's request id (a fresh one for beat or a publisher
  outside any context) and ``task_id``, ``task_name``, ``parent_task_id``,
  ``root_task_id`` on every line; at the end one task line on the
  ``TASK_LOGGER`` logger (``task``, ``outcome``, ``duration_ms``,
  ``retries``, ``queue_wait_ms``; ERROR for a failure) and the metrics in
  :mod:`django_lantern.metrics._tasks`;
- with ``TASK_METRICS_PORT`` the worker serves ``/metrics`` itself
  (:mod:`django_lantern.celery._worker`).

Header values are hostile until validated, like HTTP headers: an invalid id is
replaced, a timestamp that is not a finite number is ignored. Every hook is
fail safe: an error is counted and logged once, never raised into Celery.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from datetime import datetime
from typing import Any

from django_lantern import request_id as request_ids
from django_lantern._errors import report_internal_error
from django_lantern.binding import enter_context
from django_lantern.celery import _integrations as celery_integrations
from django_lantern.celery import _worker as celery_worker
from django_lantern.context import UNKNOWN, UNKNOWN_LABEL, current
from django_lantern.health.builtin import watch_celery_app
from django_lantern.jobs._task_line import record_task
from django_lantern.scrubbing import argument_secrets
from django_lantern.sentry._own_lines import quiet_task_line

__all__ = ["instrument"]

REQUEST_ID_HEADER = "lantern_request_id"
PUBLISHED_AT_HEADER = "lantern_published_at"
RUN_ATTRIBUTE = "_lantern_run"

logger = logging.getLogger("django_lantern.celery")


class TaskRun:
    """What one run needs from start to end; kept on the task's request object."""

    __slots__ = ("error_type", "finish", "queue_wait", "started", "token")

    def __init__(self, token: Any, queue_wait: float | None) -> None:
        self.token = token
        self.queue_wait = queue_wait
        self.started = time.perf_counter()
        self.error_type: str | None = None
        # Callables run at the end, innermost first (span, Sentry scope).
        self.finish: list[Any] = []


def _fail_safe(where: str, exc: Exception) -> None:
    report_internal_error(where, exc)


# -- publishing --------------------------------------------------------------
def on_before_publish(sender: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Put the current request id, the publish time and the trace context into the headers."""
    if headers is None:
        return
    try:
        ctx = current.get()
        if ctx is not None:
            headers.setdefault(REQUEST_ID_HEADER, ctx.request_id)
        # Always this publish's time: a retry republishes with the old headers.
        headers[PUBLISHED_AT_HEADER] = time.time()
        celery_integrations.inject(headers)
    except Exception as exc:
        _fail_safe("celery_publish", exc)


# -- running -----------------------------------------------------------------
def _header(request: Any, name: str) -> Any:
    value = getattr(request, name, None)
    if value is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, dict):
            value = headers.get(name)
    return value


def _incoming_request_id(request: Any) -> str | None:
    return request_ids.accept(_header(request, REQUEST_ID_HEADER), request_ids.TASK_MESSAGE)


def _eta_timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def queue_wait_seconds(request: Any, now: float) -> float | None:
    """Seconds from publishing, or from the ETA/countdown if later, to ``now``; None if unknown."""
    published = _header(request, PUBLISHED_AT_HEADER)
    if isinstance(published, bool) or not isinstance(published, (int, float)) or not math.isfinite(published):
        return None
    eta = _eta_timestamp(getattr(request, "eta", None))
    since = max(float(published), eta) if eta is not None else float(published)
    # Clocks of publisher and worker hosts differ: never a negative wait.
    return max(0.0, now - since)


def _id_field(value: Any) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


def on_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Bind the run's context; remember when it started."""
    if task is None:
        return
    try:
        request = task.request
        fields = {
            "task_id": _id_field(task_id),
            "task_name": str(task.name),
            "parent_task_id": _id_field(getattr(request, "parent_id", None)),
            "root_task_id": _id_field(getattr(request, "root_id", None)),
        }
        wait = queue_wait_seconds(request, time.time())
        # No id in the message (beat, a publisher outside any context): a fresh one.
        # Arguments under sensitive names (a ``new_password``) are redacted in
        # every sink while the task runs, as a request's cookies are.
        args, kwargs = getattr(request, "args", None) or (), getattr(request, "kwargs", None) or {}
        secrets = argument_secrets(getattr(task, "run", None), args, kwargs)
        token = enter_context(_incoming_request_id(request), fields, secrets)
        run = TaskRun(token, wait)
        setattr(request, RUN_ATTRIBUTE, run)
        celery_integrations.start(task, request, run)
    except Exception as exc:
        _fail_safe("celery_prerun", exc)


def on_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    """Note the exception type for the task line (``task_failure`` comes before ``task_postrun``)."""
    try:
        run = getattr(getattr(sender, "request", None), RUN_ATTRIBUTE, None)
        if isinstance(run, TaskRun) and exception is not None:
            run.error_type = type(exception).__qualname__
    except Exception as exc:
        _fail_safe("celery_failure", exc)


def on_postrun(sender: Any = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    """Write the task line, record the metrics, end the span and unbind."""
    if task is None:
        return
    try:
        request = task.request
        run = getattr(request, RUN_ATTRIBUTE, None)
    except Exception as exc:
        _fail_safe("celery_postrun", exc)
        return
    if not isinstance(run, TaskRun):
        return
    try:
        setattr(request, RUN_ATTRIBUTE, None)
        seconds = time.perf_counter() - run.started
        outcome = (state or UNKNOWN_LABEL).lower()
        retries = getattr(request, "retries", 0) or 0
        wait, error_type = run.queue_wait, run.error_type
        record_task(str(task.name), outcome, duration=seconds, queue_wait=wait, retries=retries, error_type=error_type)
    except Exception as exc:
        _fail_safe("celery_postrun", exc)
    finally:
        for finish in reversed(run.finish):
            try:
                finish(run)
            except Exception as exc:
                _fail_safe("celery_postrun", exc)
        try:
            current.reset(run.token)
        except ValueError as exc:  # a pool that ran prerun and postrun in different contexts
            _fail_safe("celery_postrun", exc)


# -- wiring ------------------------------------------------------------------
def instrument(app: Any) -> Any:
    """Connect django-lantern to Celery (process-wide, idempotent); returns ``app``.

    Call it where the Celery app is defined, so that both the web process
    (which publishes) and the worker (which runs) are instrumented.
    """
    watch_celery_app(app)  # the readiness checks' app
    _connect_signals()
    return app


@functools.cache
def _connect_signals() -> None:
    """Once per process: Celery's signals are process-wide, whatever the app."""
    from celery import signals

    signals.before_task_publish.connect(on_before_publish, weak=False, dispatch_uid="django_lantern.publish")
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="django_lantern.prerun")
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid="django_lantern.failure")
    signals.task_postrun.connect(on_postrun, weak=False, dispatch_uid="django_lantern.postrun")
    signals.worker_ready.connect(celery_worker.on_worker_ready, weak=False, dispatch_uid="django_lantern.ready")
    quiet_task_line()
