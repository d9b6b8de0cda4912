"""gunicorn config for the example: ``make run`` is ``gunicorn -c gunicorn.conf.py config.wsgi``.

Two workers on 127.0.0.1:8000, with Prometheus multi-process metrics set up
so that /metrics shows the totals of all workers, not of whichever one
answered the scrape. Command-line flags (``--bind``, ``--workers``) override
the values here.
"""

from __future__ import annotations

import os

from django_lantern.logging.servers import gunicorn_logconfig_dict
from django_lantern.metrics import multiprocess as lantern_metrics

bind = "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
wsgi_app = "config.wsgi"

# --- Logs ---------------------------------------------------------------------
# gunicorn's own lines (start-up, workers, errors) in the same format as the
# app's (LANTERN_LOG_FORMAT; text under DJANGO_DEBUG=1 as in settings.py), and
# gunicorn's access log off: LanternMiddleware writes the one line per request.
logconfig_dict = gunicorn_logconfig_dict(debug=os.environ.get("DJANGO_DEBUG", "1") == "1")

# --- Prometheus multi-process metrics ---------------------------------------
# Must run here, at config load in the master, before any worker imports
# prometheus_client: the client picks its file-backed mode at import time by
# reading PROMETHEUS_MULTIPROC_DIR, and workers inherit the variable.
lantern_metrics.prepare_multiproc_dir()


def on_starting(server: object) -> None:
    # Master start: drop the previous run's files so its totals are not added in.
    lantern_metrics.on_starting(server)


def child_exit(server: object, worker: object) -> None:
    # Any worker exit, SIGKILL included: fold its counters into the archive, drop its gauges.
    lantern_metrics.child_exit(server, worker)


def when_ready(server: object) -> None:
    # `make run` (EXAMPLE_BACKGROUND_WORKER=1): the job worker runs beside the web.
    from config import background_worker

    if background_worker.enabled():
        background_worker.start()


def on_exit(server: object) -> None:
    from config import background_worker

    background_worker.stop()
    # Master exit: remove the directory if it was a made-up temporary one.
    lantern_metrics.on_exit(server)


# --- Graceful shutdown hooks --------------------------------------------------
# On SIGTERM each worker drains: /readyz turns 503, /healthz stays 200 and
# requests are still served for LANTERN["SHUTDOWN_DRAIN_SECONDS"], then
# gunicorn's own graceful stop finishes in-flight requests and worker_exit
# flushes pending error events and spans (docs/reliability.md). The arbiter
# counts graceful_timeout from the SIGTERM, so it must cover the drain plus
# the slowest request. Different hook names from the metrics hooks above.
from django_lantern.gunicorn import post_worker_init, worker_exit  # noqa: E402, F401 - gunicorn hooks by name

graceful_timeout = 30
