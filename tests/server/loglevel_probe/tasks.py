"""The Celery task of the example's app that logs ``myapp.probe`` at DEBUG (``CELERY_IMPORTS``)."""

from __future__ import annotations

import os
import time

from config.celery import app
from tests.server.loglevel_probe import probe


@app.task(name="loglevel.probe")
def probe_task() -> int:
    probe.debug("probe task debug line", extra={"pid": os.getpid()})
    time.sleep(0.05)  # so the runs spread over the pool's children
    return os.getpid()
