"""The worker side of the Celery integration: its own ``/metrics`` port, its children's files.

With ``LANTERN["TASK_METRICS_PORT"]`` set, the worker's main process serves
the task metrics with ``prometheus_client``'s HTTP server once the worker is
ready (``TASK_METRICS_ADDRESS``, default all interfaces, like any exporter).
Under the prefork pool the tasks run in child processes: set
``PROMETHEUS_MULTIPROC_DIR`` in the worker's environment (as for gunicorn) and
the server sums the children's files; without it, only the solo and threads
pools (tasks in the main process) can be exposed this way, and a warning says
so. Alternatively point the web app's ``PROMETHEUS_MULTIPROC_DIR`` at the same
directory on a shared host: its ``/metrics`` then includes the task families.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.conf import get_settings
from django_lantern.logging._attached import attached_handlers
from django_lantern.metrics.multiprocess import ENV, fold_dead_processes

logger = logging.getLogger("django_lantern.celery")

# The server this process started, not a cache: one port, one server per process
# for its whole life, whatever happens to the settings.
_servers: list[Any] = []


def _pool_is_prefork(worker: Any) -> bool:
    pool_cls = getattr(worker, "pool_cls", None)
    name = getattr(pool_cls, "__module__", "") + "." + getattr(pool_cls, "__name__", str(pool_cls))
    return "prefork" in name


def _registry() -> Any:
    from prometheus_client import REGISTRY, CollectorRegistry

    from django_lantern.metrics.archive import LockedCollector

    if os.environ.get(ENV):
        registry = CollectorRegistry()
        LockedCollector(registry)  # reads under the lock the children's folding takes
        return registry
    return REGISTRY


def on_child_start(**_: Any) -> None:
    """``worker_process_init`` (a new pool child): fold the files of children that are gone.

    Every replaced child (``--max-tasks-per-child``, a crash, a SIGKILL) is
    followed by a new one, so the directory holds the live children's files
    and the archives, never one set per child that ever ran.
    """
    fold_dead_processes()


def on_child_exit(**_: Any) -> None:
    """``worker_process_shutdown`` (a pool child about to end): write the queued log lines.

    A prefork child ends with ``os._exit``, which skips ``logging.shutdown``:
    the lines the non-blocking handler still queues (a task's last lines, its
    task line) would be lost with the process. Each handler waits at most its
    ``flush_timeout``.
    """
    for handler in attached_handlers():
        try:
            handler.flush()
        except Exception as exc:
            report_internal_error("log_flush", exc)


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    """Start the metrics server in the worker's main process (``worker_ready``)."""
    try:
        cfg = get_settings()
        port = cfg.task_metrics_port
        if port is None or _servers:
            return
        if not os.environ.get(ENV) and _pool_is_prefork(sender):
            logger.warning(
                "TASK_METRICS_PORT is set but PROMETHEUS_MULTIPROC_DIR is not: prefork children's "
                "task metrics cannot be served; set it in the worker's environment."
            )
        # Here, not at module level: the Celery app module imports this package
        # in every process, and prometheus_client reads PROMETHEUS_MULTIPROC_DIR
        # once, when first imported (metrics/multiprocess.py).
        from prometheus_client import start_http_server

        from django_lantern.metrics._families import get_task_families

        get_task_families()  # the families exist (and, in-process, are registered) before the first scrape
        _servers.append(start_http_server(port, addr=cfg.task_metrics_address, registry=_registry()))
        logger.info("task metrics served on %s:%d", cfg.task_metrics_address, port)
    except Exception as exc:
        report_internal_error("celery_metrics_server", exc)
