"""Gunicorn server hooks for a graceful, Kubernetes-correct shutdown.

Use them from your gunicorn config file::

    from django_lantern.gunicorn import post_worker_init, worker_exit  # noqa: F401

    graceful_timeout = 30  # > LANTERN["SHUTDOWN_DRAIN_SECONDS"] + your slowest request

If the config already defines these hooks, call ``lantern_post_worker_init``
and ``lantern_worker_exit`` from yours instead.

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
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Any

from django_lantern import shutdown
from django_lantern.health._drain import drain_seconds


def lantern_post_worker_init(worker: Any) -> None:
    """Replace the worker's SIGTERM handler with drain-then-stop."""
    original = worker.handle_exit
    started = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # A signal handler must return quickly: the wait happens in a thread.
        if started.is_set():
            return  # a second SIGTERM does not shorten the drain
        started.set()
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


# gunicorn looks hooks up by these names in its config module.
post_worker_init = lantern_post_worker_init
worker_exit = lantern_worker_exit

__all__ = ["lantern_post_worker_init", "lantern_worker_exit", "post_worker_init", "worker_exit"]
