"""Gunicorn config for the system suite: the package's shutdown hooks, multi-process metrics.

The example's own gunicorn.conf.py is picked up by gunicorn from the working
directory otherwise; the suite names this file explicitly so that what it
tests does not change with the example's deployment choices.
"""

from __future__ import annotations

import os
from typing import Any

from django_lantern.gunicorn import post_worker_init, worker_exit  # noqa: F401 - gunicorn hooks by name

graceful_timeout = 30
loglevel = "info"


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's metric files are folded into the archive; its live gauges go.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from django_lantern.metrics import multiprocess

        multiprocess.child_exit(server, worker)
