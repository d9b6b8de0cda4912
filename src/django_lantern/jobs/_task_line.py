"""The end of a background task run: one task line and the task metrics.

Celery (``django_lantern.celery``) and ``django.tasks``
(``django_lantern.jobs._djtasks``) both end a run here, so a dashboard or a log
query does not care which framework ran a task: one record on
``LANTERN["TASK_LOGGER"]`` (``lantern.task``) with ``task``, ``outcome``,
``duration_ms``, ``retries``, ``queue_wait_ms`` (and ``error_type`` for a
failure; INFO, WARNING for a retry, ERROR for a failure), and
:func:`django_lantern.metrics._tasks.task_finished`, counted first so that
whoever sees the line finds the run counted.

The line also says what the run cost (``_cost.COST_FIELDS``: queries, cache,
outbound calls, CPU), as the access line does for a request; a management
command ends with such a line too (:func:`record_command`), without metrics.
"""

from __future__ import annotations

import logging
from typing import Any

from django_lantern._cost import Cost
from django_lantern._errors import report_internal_error
from django_lantern.conf import get_settings
from django_lantern.context import current
from django_lantern.logging import _held as debug_lines
from django_lantern.logging._escape import logfmt_value

SUCCESS = "success"
FAILURE = "failure"
_LEVELS = {SUCCESS: logging.INFO, FAILURE: logging.ERROR, "retry": logging.WARNING}


def begin_run() -> None:
    """``DEBUG_ON_ERROR``: a buffer of DEBUG calls for the run whose context was just bound. Never raises."""
    try:
        cfg = get_settings()
        ctx = current.get()
        if cfg.debug_on_error and ctx is not None:
            debug_lines.begin(ctx, cfg.debug_on_error_records)
    except Exception as exc:
        report_internal_error("debug_on_error", exc)


def record_task(
    task: str,
    outcome: str,
    *,
    duration: float,
    queue_wait: float | None,
    retries: int = 0,
    error_type: str | None = None,
    cost: Cost | None = None,
) -> None:
    """Log the task line and count the task; a failed run's DEBUG lines first; ``cost``
    is the run's (None: not known, a run another process lost). Never raises."""
    ctx = current.get()
    if ctx is not None and ctx.held is not None:
        debug_lines.settle(ctx, outcome == FAILURE)
    try:
        # Here, not at module level: the Celery app module imports this through
        # django_lantern.celery in every process, and prometheus_client reads
        # PROMETHEUS_MULTIPROC_DIR once, when first imported (metrics/multiprocess.py).
        from django_lantern.metrics import _tasks as task_metrics

        task_metrics.task_finished(task, outcome, duration, queue_wait)
    except Exception as exc:  # a metrics failure must not cost the task line
        report_internal_error("task_metrics", exc)
    try:
        duration_ms = round(duration * 1000, 2)
        queue_wait_ms = round(queue_wait * 1000, 2) if queue_wait is not None else None
        extra: dict[str, Any] = {
            "task": task,
            "outcome": outcome,
            "duration_ms": duration_ms,
            "retries": retries,
            "queue_wait_ms": queue_wait_ms,
        }
        if error_type is not None:
            extra["error_type"] = error_type
        if cost is not None:
            extra.update(_settled(cost))
        logging.getLogger(get_settings().task_logger).log(
            _LEVELS.get(outcome, logging.INFO),
            f"task={logfmt_value(task, 200)} outcome={outcome} duration_ms={duration_ms} "
            f"retries={retries} queue_wait_ms={queue_wait_ms if queue_wait_ms is not None else '-'}",
            extra=extra,
        )
    except Exception as exc:
        report_internal_error("task_line", exc)


def record_command(name: str, outcome: str, *, duration: float, cost: Cost | None) -> None:
    """The line that ends a management command run (``jobs/_commands.py``), on the task
    logger: ``outcome``, ``duration_ms`` and what the run cost; its ``command`` field is
    bound already. Never raises."""
    try:
        duration_ms = round(duration * 1000, 2)
        extra: dict[str, Any] = {"outcome": outcome, "duration_ms": duration_ms}
        if cost is not None:
            extra.update(_settled(cost))
        logging.getLogger(get_settings().task_logger).log(
            _LEVELS.get(outcome, logging.INFO),
            f"command={logfmt_value(name, 200)} outcome={outcome} duration_ms={duration_ms}",
            extra=extra,
        )
    except Exception as exc:
        report_internal_error("task_line", exc)


def _settled(cost: Cost) -> dict[str, Any]:
    """The run's cost fields; its counts join the scope it ran inside (an eager run in a request)."""
    fields = cost.fields()
    cost.settle()
    return fields
