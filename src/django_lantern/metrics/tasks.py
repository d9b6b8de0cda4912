"""Metric families for background tasks (Celery), and their recording.

Kept apart from the HTTP families: a worker builds only these. Under the
prefork pool each child process writes its own files in
``PROMETHEUS_MULTIPROC_DIR`` (counters and histograms only, so nothing needs
marking dead when a child exits) and a scrape sums them; see
docs/jobs-celery.md.

Bounded: task names come from code, but a task created per tenant or a
dynamic name must not grow the series without limit, so past
``METRICS_MAX_LABEL_SETS`` names new ones fold into ``<overflow>``; outcomes are
a fixed set.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass

from prometheus_client import REGISTRY, Counter, Histogram

from django_lantern import _reset_hooks
from django_lantern.conf import get_settings
from django_lantern.metrics.families import metric_name

OUTCOMES = frozenset({"success", "failure", "retry", "ignored", "rejected"})
OTHER_OUTCOME = "other"
OVERFLOW = "<overflow>"
MAX_TASK_NAME = 200

# Tasks run from milliseconds to hours; queues wait from nothing to a backlog.
TASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class TaskFamilies:
    tasks: Counter
    duration: Histogram
    queue_wait: Histogram
    cap: int
    names: set[str]


_lock = threading.Lock()


def get_task_families() -> TaskFamilies:
    """The families, built once per process (once per task run: the lock costs nothing here)."""
    with _lock:
        return _build()


@functools.cache
def _build() -> TaskFamilies:
    cfg = get_settings()
    p = cfg.metrics_namespace

    def histogram(name: str, doc: str) -> Histogram:
        return Histogram(metric_name(p, name), doc, ["task"], buckets=TASK_BUCKETS, registry=REGISTRY)

    return TaskFamilies(
        tasks=Counter(
            metric_name(p, "lantern_tasks"),
            "Background task runs, by task name and outcome (success, failure, retry, ignored, rejected).",
            ["task", "outcome"],
            registry=REGISTRY,
        ),
        duration=histogram("lantern_task_duration_seconds", "Time a task run took on the worker, by task name."),
        queue_wait=histogram(
            "lantern_task_queue_wait_seconds",
            "Time from publishing (or the ETA, if later) to the start of the run, by task name.",
        ),
        cap=cfg.metrics_max_label_sets,
        names=set(),
    )


def reset() -> None:
    """Unregister the families (settings changed: the namespace may differ)."""
    with _lock:
        if _build.cache_info().currsize:
            families = _build()
            for collector in (families.tasks, families.duration, families.queue_wait):
                with contextlib.suppress(KeyError):
                    REGISTRY.unregister(collector)
        _build.cache_clear()


_reset_hooks.append(reset)


def _task_label(families: TaskFamilies, name: str) -> str:
    name = name[:MAX_TASK_NAME]
    if name in families.names:
        return name
    if len(families.names) >= families.cap:
        return OVERFLOW
    families.names.add(name)  # a race may add one name past the cap: harmless
    return name


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
