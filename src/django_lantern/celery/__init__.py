"""Celery: request ids across the queue, one task line per run, task metrics.

``instrument(app)`` (idempotent) connects Celery's signals:

- publishing (``before_task_publish``, in the web process or in a task): the
  current request id goes into the message headers (``lantern_request_id``)
  with the publish time (``lantern_published_at``) and, when tracing is on,
  ``traceparent``;
- each run on the worker (``task_prerun`` ... ``task_postrun``) is bound to a
  context: the publisher's request id (for beat or a publisher outside any
  context, one derived from the task id) and ``task_id``, ``task_name``,
  ``parent_task_id``, ``root_task_id`` on every line; at the end one task
  line on the ``TASK_LOGGER`` logger (``task``, ``outcome``, ``duration_ms``,
  ``retries``, ``queue_wait_ms``; ERROR for a failure) and the metrics in
  :mod:`django_lantern.metrics._tasks`;
- the worker's main process binds the same ids around its own lines and
  records a run whose child was killed (:mod:`django_lantern.celery._main_process`);
- a worker keeps Django's ``LOGGING`` unless its owner chose otherwise
  (:mod:`django_lantern.celery._logging`);
- with ``TASK_METRICS_PORT`` the worker serves ``/metrics`` itself, and each
  new pool child folds the metric files of dead ones
  (:mod:`django_lantern.celery._worker`).

Header values are hostile until validated, like HTTP headers, all in
:mod:`django_lantern.celery._headers`. Every hook is fail safe: an error is
counted and logged once, never raised into Celery.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.celery import _headers as celery_headers
from django_lantern.celery import _integrations as celery_integrations
from django_lantern.celery import _logging as celery_logging
from django_lantern.celery import _main_process as celery_main
from django_lantern.celery import _worker as celery_worker
from django_lantern.context import UNKNOWN_LABEL, current
from django_lantern.health.builtin import watch_celery_app
from django_lantern.jobs._task_line import begin_run, record_task
from django_lantern.logging import _held as debug_lines
from django_lantern.logging import _levels_apply
from django_lantern.metrics import _insights as query_insights
from django_lantern.scrubbing import argument_secrets
from django_lantern.sentry._own_lines import quiet_task_line

__all__ = ["instrument"]

REQUEST_ID_HEADER = celery_headers.REQUEST_ID_HEADER
PUBLISHED_AT_HEADER = celery_headers.PUBLISHED_AT_HEADER
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
def queue_wait_seconds(request: Any, now: float) -> float | None:
    """Seconds from publishing, or from the ETA/countdown if later, to ``now``; None if unknown."""
    return celery_headers.incoming(celery_headers.from_task_request(request), now, warn=False).queue_wait(now)


def on_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Bind the run's context; remember when it started."""
    if task is None:
        return
    try:
        request = task.request
        now = time.time()
        message = celery_headers.incoming(celery_headers.from_task_request(request), now)
        wait = message.queue_wait(now)
        # Arguments under sensitive names (a ``new_password``) are redacted in
        # every sink while the task runs, as a request's cookies are.
        args, kwargs = getattr(request, "args", None) or (), getattr(request, "kwargs", None) or {}
        secrets = argument_secrets(getattr(task, "run", None), args, kwargs)
        token = celery_main.enter(message, secrets, own_cost=True, task_name=str(task.name))
        begin_run()
        run = TaskRun(token, wait)
        setattr(request, RUN_ATTRIBUTE, run)
        celery_integrations.start(task, run, message)
        scope = query_insights.begin()
        # Appended last, so run first at the end, while the run's context is bound; a run only logs.
        run.finish.append(lambda _run: query_insights.end(scope))
    except Exception as exc:
        _fail_safe("celery_prerun", exc)


def on_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    """Note the exception type for the task line (``task_failure`` comes before ``task_postrun``);
    with DEBUG_ON_ERROR, write the run's DEBUG lines before Celery's ERROR line, which follows."""
    debug_lines.flush(current.get())
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
        # Claimed first: the main process must not count this run again if this child dies now,
        # and a run it has counted already (the hard time limit) is not counted twice.
        if celery_main.claim(str(getattr(request, "id", "")), retries, os.getpid()):
            ctx = current.get()  # the run's, bound in ``on_prerun``
            record_task(
                str(task.name),
                outcome,
                duration=seconds,
                queue_wait=wait,
                retries=retries,
                error_type=error_type,
                cost=ctx.cost if ctx is not None else None,
            )
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
    celery_main.install(app.Task)
    return app


@functools.cache
def _connect_signals() -> None:
    """Once per process: Celery's signals are process-wide, whatever the app."""
    from celery import signals
    from celery.app.task import Task

    signals.before_task_publish.connect(on_before_publish, weak=False, dispatch_uid="django_lantern.publish")
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="django_lantern.prerun")
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid="django_lantern.failure")
    signals.task_postrun.connect(on_postrun, weak=False, dispatch_uid="django_lantern.postrun")
    signals.worker_ready.connect(celery_worker.on_worker_ready, weak=False, dispatch_uid="django_lantern.ready")
    signals.worker_process_init.connect(
        celery_worker.on_child_start, weak=False, dispatch_uid="django_lantern.child_start"
    )
    signals.worker_process_shutdown.connect(
        celery_worker.on_child_exit, weak=False, dispatch_uid="django_lantern.child_exit"
    )
    # Run-time log levels (docs/logging.md): the poller in every pool child and in the main process.
    signals.worker_process_init.connect(_levels_apply.on_worker_start, weak=False, dispatch_uid="django_lantern.levels")
    signals.worker_ready.connect(_levels_apply.on_worker_start, weak=False, dispatch_uid="django_lantern.levels_main")
    signals.celeryd_init.connect(celery_logging.on_worker_starting, weak=False, dispatch_uid="django_lantern.starting")
    celery_main.prepare()
    celery_main.install(Task)
    quiet_task_line()
