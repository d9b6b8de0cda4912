"""gunicorn config for the example: ``make run`` is ``gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$PORT config.wsgi``.

Two workers on 127.0.0.1:8000, with Prometheus multi-process metrics set up
so that /metrics shows the totals of all workers, not of whichever one
answered the scrape. Command-line flags (``--bind``, ``--workers``) override
the values here.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from config.env import debug_from_env  # gunicorn has put this directory on sys.path
from django_lantern.logging.servers import gunicorn_logconfig_dict
from django_lantern.metrics.multiprocess import prepare_multiproc_dir

bind = "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
wsgi_app = "config.wsgi"

# --- Logs ---------------------------------------------------------------------
# gunicorn's own lines (start-up, workers, errors) in the same format as the
# app's (LANTERN_LOG_FORMAT; text under DJANGO_DEBUG=1, read by the one function
# settings.py uses), and
# gunicorn's access log off: LanternMiddleware writes the one line per request.
logconfig_dict = gunicorn_logconfig_dict(debug=debug_from_env())

# --- Prometheus multi-process metrics ---------------------------------------
# Must run here, at config load in the master, before any worker imports
# prometheus_client: the client picks its file-backed mode at import time by
# reading PROMETHEUS_MULTIPROC_DIR, and workers inherit the variable.
prepare_multiproc_dir()

# --- django-lantern's gunicorn hooks ------------------------------------------
# Imported after the directory is prepared. The master's hooks keep the
# metrics exact across workers: on_starting drops the previous run's files,
# child_exit folds a dead worker's counters (SIGKILL included) into the
# archive, on_exit removes a made-up directory. On SIGTERM each worker drains:
# /readyz turns 503, /healthz stays 200 and requests are still served for
# LANTERN["SHUTDOWN_DRAIN_SECONDS"], then gunicorn's own graceful stop finishes
# in-flight requests and worker_exit flushes pending error events and spans
# (docs/reliability.md). The arbiter counts graceful_timeout from the SIGTERM,
# so it must cover the drain plus the slowest request. When a request outlives
# --timeout, worker_abort writes its stack on lantern.inflight before the
# worker dies; under gthread, which kills no busy thread, post_worker_init has
# the stuck-request watcher write it once the request passes --timeout
# (docs/status.md).
from django_lantern.gunicorn import (  # noqa: E402 - gunicorn hooks by name
    child_exit,  # noqa: F401
    lantern_on_exit,
    lantern_on_starting,
    post_worker_init,  # noqa: F401
    worker_abort,  # noqa: F401
    worker_exit,  # noqa: F401
)

graceful_timeout = 30


def on_starting(server: Any) -> None:
    # Before gunicorn binds: a busy port ends the start at once, with the fix in
    # the message, instead of after gunicorn's five one-second retries.
    from config.ports import busy

    # Not when sockets are handed over (a re-exec, systemd) or shared (SO_REUSEPORT).
    if not (os.environ.get("GUNICORN_FD") or os.environ.get("LISTEN_FDS") or server.cfg.reuse_port):
        for address in server.cfg.address:
            reason = busy(*address) if isinstance(address, tuple) else None  # unix sockets: gunicorn's own check
            if reason:
                server.log.error(reason)
                sys.exit(1)
    lantern_on_starting(server)


def when_ready(server: object) -> None:
    # `make run` (EXAMPLE_BACKGROUND_WORKER=1): the job worker runs beside the web.
    from config import background_worker

    if background_worker.enabled():
        background_worker.start()


def on_exit(server: object) -> None:
    # The example's own master hook beside lantern's: stop the job worker first.
    from config import background_worker

    background_worker.stop()
    lantern_on_exit(server)
