"""Multi-process metrics under gunicorn: the directory and the two hooks.

``prometheus_client`` decides at import time whether to write values to
per-process files, by looking at ``PROMETHEUS_MULTIPROC_DIR``. So the
variable must be set in the gunicorn master before any worker imports the
client; the example's ``gunicorn.conf.py`` calls :func:`prepare_multiproc_dir`
at the top of the config file for that reason. This module therefore imports
nothing from ``prometheus_client`` at module level.

Why counters never go down and the directory stays bounded: each worker's
counters live in its own file while it runs; when it exits (SIGKILL
included) ``child_exit`` folds its counter, histogram and summary values
into one archive file per type and removes its files, live gauges
included (see :mod:`django_lantern.metrics.archive` for the locking and the
crash-safe commit). The directory is wiped once, when the master starts,
which Prometheus sees as an ordinary counter reset on process restart.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django_lantern.metrics._archive_files import COMMITTED, PENDING
from django_lantern.metrics.archive import merge_dead

__all__ = ["child_exit", "on_exit", "on_starting", "prepare_multiproc_dir"]

ENV = "PROMETHEUS_MULTIPROC_DIR"
# The files prometheus_client writes; nothing else in the directory is touched.
_PATTERNS = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")

logger = logging.getLogger("django_lantern.metrics")

# A directory this process created itself (not named by the user), removed by on_exit.
_owned: str | None = None


def prepare_multiproc_dir(path: str | os.PathLike[str] | None = None) -> str:
    """Make sure ``PROMETHEUS_MULTIPROC_DIR`` names an existing directory; return it.

    The variable wins if set; else ``path``; else a fresh private directory
    under the system temp dir. The variable is exported so that workers (forked
    from this process) inherit it.
    """
    global _owned
    chosen = os.environ.get(ENV) or (os.fspath(path) if path is not None else None)
    if not chosen:
        chosen = _owned = tempfile.mkdtemp(prefix="lantern-prometheus-")
        # on_exit removes it; a master that exits before gunicorn calls on_exit
        # (a busy port, a failed start-up) removes it here. Forked workers inherit
        # the handler, so it only acts in this process.
        atexit.register(_remove_owned_dir, os.getpid())
    Path(chosen).mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = chosen
    return chosen


def wipe_multiproc_dir(path: str | os.PathLike[str] | None = None) -> int:
    """Delete the metric files left by an earlier run; return how many.

    Only at master start: files of the previous run would otherwise be summed
    into the new one, and a live gauge of a long-dead pid would count forever.
    """
    directory = Path(path or os.environ.get(ENV) or "")
    if not os.fspath(directory) or not directory.is_dir():
        return 0
    for leftover in (PENDING, COMMITTED):  # an interrupted merge of the previous run
        shutil.rmtree(directory / leftover, ignore_errors=True)
    removed = 0
    for pattern in _PATTERNS:
        for file in directory.glob(pattern):
            try:
                file.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def mark_worker_dead(pid: int) -> None:
    """Fold a dead worker's files (and any other dead process's) into the archives.

    If the merge fails, its files stay where they are (still counted, just
    not compacted; the next exit retries) and only its live gauges go.
    """
    directory = os.environ.get(ENV)
    if not directory:
        return
    try:
        merge_dead(directory, [pid])
    except Exception:
        logger.exception("could not archive the metric files of dead worker %s; they stay and still count", pid)
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def fold_dead_processes() -> None:
    """Fold the files of every process that no longer exists into the archives (a Celery
    pool child, as it starts); a failure leaves them in place, still counted."""
    directory = os.environ.get(ENV)
    if not directory:
        return
    try:
        merge_dead(directory)
    except Exception:
        logger.exception("could not archive the metric files of dead processes; they stay and still count")


# -- gunicorn server hooks: ``on_starting = on_starting`` in gunicorn.conf.py ----
def on_starting(server: Any) -> None:
    """gunicorn ``on_starting`` (master, once): prepare and wipe the directory."""
    directory = prepare_multiproc_dir()
    removed = wipe_multiproc_dir(directory)
    logger.info("prometheus multiprocess dir %s ready (%d stale files removed)", directory, removed)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` (master, after any worker exit, SIGKILL included): archive its metrics."""
    try:
        mark_worker_dead(worker.pid)
    except Exception:  # a bookkeeping failure must not take the master down
        logger.exception("could not mark worker %s dead for prometheus multiprocess", getattr(worker, "pid", "?"))


def on_exit(server: Any) -> None:
    """gunicorn ``on_exit`` (master, last): remove the directory if this process made it up."""
    _remove_owned_dir(os.getpid())


def _remove_owned_dir(creator: int) -> None:
    """Remove the directory ``prepare_multiproc_dir`` made up, in the process that made it."""
    global _owned
    if _owned is not None and os.getpid() == creator and os.environ.get(ENV) == _owned:
        shutil.rmtree(_owned, ignore_errors=True)
        _owned = None
