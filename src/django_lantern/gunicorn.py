"""Every gunicorn server hook django-lantern needs, in one module.

Use them from your gunicorn config file::

    from django_lantern.gunicorn import (  # noqa: F401
        child_exit, on_exit, on_starting, post_worker_init, worker_abort, worker_exit,
    )
    from django_lantern.metrics.multiprocess import prepare_multiproc_dir

    prepare_multiproc_dir()  # at config load, before any worker imports prometheus_client
    graceful_timeout = 30  # > LANTERN["SHUTDOWN_DRAIN_SECONDS"] + your slowest request

If the config already defines one of these hooks, call its ``lantern_`` twin
(``lantern_on_starting``, ``lantern_child_exit``, ...) from yours instead.

The master's hooks keep Prometheus multi-process metrics exact across
workers (:mod:`django_lantern.metrics.multiprocess`): ``on_starting`` wipes
the previous run's files, ``child_exit`` folds a dead worker's counters into
the archive, ``on_exit`` removes a directory lantern made up. The workers'
hooks drain and flush on SIGTERM:

What happens on SIGTERM (sent by the orchestrator to the arbiter, which
forwards it to every worker):

1. The worker enters draining: ``/readyz`` answers 503 so the load balancer
   takes the pod out of rotation; ``/healthz`` stays 200; the worker keeps
   accepting and serving for ``SHUTDOWN_DRAIN_SECONDS``, because the load
   balancer notices the 503 only at its next probe and meanwhile still sends
   traffic.
2. Then gunicorn's own graceful stop runs: no new connections, in-flight
   requests finish (up to ``graceful_timeout``, counted from the SIGTERM by
   the arbiter, hence the sizing above).
3. ``worker_exit`` flushes pending error events and spans (bounded wait).

SIGINT and SIGQUIT keep gunicorn's meaning: stop now, no drain.

When the arbiter kills a worker whose request outlived ``--timeout`` (SIGABRT,
then SIGKILL about a second later), ``worker_abort`` writes one CRITICAL
``lantern.inflight`` line per request in flight, with its stack, and waits for
the lines to be written (docs/status.md). The same lines come just before the
arbiter's SIGKILL ends a graceful stop with requests still running.

gthread's ``--timeout`` watches only its main loop, never a busy thread, so
the arbiter never kills a worker for a stuck request there. Under gthread,
``post_worker_init`` arms the stuck-request watcher with ``--timeout``: one
CRITICAL line per request still running past it, saying it was not killed.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from types import FrameType
from typing import Any

from django_lantern import shutdown
from django_lantern.health._drain import drain_seconds
from django_lantern.logging import _levels_apply
from django_lantern.logging._inflight import report_in_flight, watch_unkilled_timeout
from django_lantern.metrics import multiprocess

# How long before the arbiter's SIGKILL the requests still running are reported: enough to write
# the lines, though one may still finish in between.
GRACEFUL_MARGIN = 0.5
# Says why a gthread request past --timeout is still running: the line must not read as a kill.
GTHREAD_TIMEOUT = "gunicorn's worker timeout (--timeout) has passed; gthread does not kill a busy thread, it runs on"


def lantern_post_worker_init(worker: Any) -> None:
    """Replace the worker's SIGTERM handler with drain-then-stop; start the log level poller."""
    _levels_apply.ensure_running()  # before the first request: run-time log levels reach idle workers too
    _watch_gthread_timeout(worker)
    original = worker.handle_exit
    started = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # A signal handler must return quickly: the wait happens in a thread.
        if started.is_set():
            return  # a second SIGTERM does not shorten the drain
        started.set()
        _watch_graceful_timeout(worker)
        shutdown.begin_drain()
        seconds = drain_seconds()
        with contextlib.suppress(Exception):
            worker.log.info("lantern: draining for %.1fs before stopping (readyz now 503)", seconds)
        if seconds <= 0:
            original(signum, frame)
            return
        timer = threading.Timer(seconds, original, args=(signum, frame))
        timer.name = "lantern-drain"
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, on_sigterm)
    # Python-level handlers are not restartable by default: keep gunicorn's setting
    # so a SIGTERM does not interrupt a blocking accept()/select() with EINTR.
    signal.siginterrupt(signal.SIGTERM, False)


def lantern_worker_exit(server: Any, worker: Any) -> None:
    """Flush pending error events and spans before the worker process ends."""
    results = shutdown.flush()
    with contextlib.suppress(Exception):
        worker.log.info("lantern: %s", shutdown.describe_flush(results))


def lantern_worker_abort(worker: Any) -> None:
    """The worker timed out: one CRITICAL ``lantern.inflight`` line per request in flight, written out."""
    report_in_flight("gunicorn's worker timeout (--timeout)", _interrupted_frame())


def _watch_graceful_timeout(worker: Any) -> None:
    """Just before the arbiter's SIGKILL ends a graceful stop (``graceful_timeout`` after its SIGTERM),
    the requests still in flight get their CRITICAL lines: the SIGKILL runs no hook."""
    try:
        graceful = float(worker.cfg.graceful_timeout)
    except (AttributeError, TypeError, ValueError):
        return
    timer = threading.Timer(
        max(graceful - GRACEFUL_MARGIN, graceful / 2),
        report_in_flight,
        args=("gunicorn's graceful timeout (--graceful-timeout) is about to end",),
    )
    timer.name = "lantern-graceful-timeout"
    timer.daemon = True
    timer.start()


def _watch_gthread_timeout(worker: Any) -> None:
    """Under gthread, a request still running past ``--timeout`` gets its CRITICAL line from the
    stuck-request watcher: the worker's main loop keeps telling the arbiter it is alive while a thread
    is busy, so the arbiter never kills it and ``worker_abort`` never runs. Other workers: nothing."""
    gthread = sys.modules.get("gunicorn.workers.gthread")  # loaded by gunicorn when it runs that worker
    if gthread is None or not isinstance(worker, gthread.ThreadWorker):
        return
    try:
        timeout = float(worker.cfg.timeout)
    except (AttributeError, TypeError, ValueError):
        return
    if timeout > 0:  # 0: the operator turned the timeout off
        watch_unkilled_timeout(timeout * 1000, GTHREAD_TIMEOUT)


def _interrupted_frame() -> FrameType | None:
    """The frame SIGABRT interrupted (the caller of gunicorn's ``handle_abort``), where a sync worker's
    request is: the handler runs on top of it, in the same thread."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "handle_abort":
            return frame.f_back
        frame = frame.f_back
    return None


lantern_on_starting = multiprocess.on_starting
lantern_child_exit = multiprocess.child_exit
lantern_on_exit = multiprocess.on_exit

# gunicorn looks hooks up by these names in its config module.
on_starting = lantern_on_starting
child_exit = lantern_child_exit
on_exit = lantern_on_exit
post_worker_init = lantern_post_worker_init
worker_exit = lantern_worker_exit
worker_abort = lantern_worker_abort

__all__ = [
    "child_exit",
    "lantern_child_exit",
    "lantern_on_exit",
    "lantern_on_starting",
    "lantern_post_worker_init",
    "lantern_worker_abort",
    "lantern_worker_exit",
    "on_exit",
    "on_starting",
    "post_worker_init",
    "worker_abort",
    "worker_exit",
]
