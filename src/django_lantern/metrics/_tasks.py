"""Recording background task (Celery) runs into their families (declared in ``_families.py``).

A worker builds only the task families, not the HTTP ones. Under the
prefork pool each child process writes its own files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums them; each new child folds
the files of dead ones into the archives (``celery/_worker.on_child_start``),
see docs/jobs-celery.md.

Bounded: task names come from code, but a task created per tenant or a
dynamic name must not grow the series without limit, so past
``METRICS_MAX_LABEL_SETS`` names new ones fold into ``<overflow>``, counted in
``lantern_label_overflow_total`` like every capped family; outcomes are a
fixed set.
"""

from __future__ import annotations

from django_lantern.conf import get_settings
from django_lantern.metrics._families import TaskFamilies, get_task_families

OUTCOMES = frozenset({"success", "failure", "retry", "ignored", "rejected"})
OTHER_OUTCOME = "other"
MAX_TASK_NAME = 200


def _task_label(families: TaskFamilies, name: str) -> str:
    names = families.names
    return names.fast.get(name) or names.resolve(name, (name[:MAX_TASK_NAME],))


def task_finished(name: str, outcome: str, seconds: float, queue_wait: float | None) -> None:
    """Count one run and observe its duration and, when known, its queue wait."""
    if not get_settings().metrics_enabled:
        return
    families = get_task_families()
    label = _task_label(families, name)
    families.tasks.labels(label, outcome if outcome in OUTCOMES else OTHER_OUTCOME).inc()
    families.duration.labels(label).observe(max(0.0, seconds))
    if queue_wait is not None:
        families.queue_wait.labels(label).observe(max(0.0, queue_wait))
