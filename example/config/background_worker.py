"""The example's background worker, started and stopped by gunicorn's master.

``make run`` sets ``EXAMPLE_BACKGROUND_WORKER=1``; ``gunicorn.conf.py`` then
calls :func:`start` once the master is ready and :func:`stop` when it exits,
so one command (and one Ctrl-C) runs and stops both. The worker is Celery's
when the example is configured for Celery (``REDIS_URL``), else
``manage.py db_worker`` (django.tasks' database backend). It inherits the
environment, ``PROMETHEUS_MULTIPROC_DIR`` included, so the web's /metrics
shows the worker's task metrics too.

On Linux the worker is also told to stop if the master dies without running
its exit hook (SIGKILL), so no orphan keeps polling.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

ENV = "EXAMPLE_BACKGROUND_WORKER"
EXAMPLE_DIR = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1

_process: subprocess.Popen[bytes] | None = None


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def jobs_backend() -> str:
    """``"celery"`` when Redis is configured and Celery installed, else ``"django.tasks"``
    (read by settings.py too, so the web and the worker always agree)."""
    return "celery" if os.environ.get("REDIS_URL") and find_spec("celery") else "django.tasks"


def command() -> list[str]:
    if jobs_backend() == "celery":
        return [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--pool", "solo"]
    return [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.5"]


def _stop_with_parent() -> None:
    # Runs in the child between fork and exec.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start() -> subprocess.Popen[bytes]:
    global _process
    if _process is None or _process.poll() is not None:
        preexec = _stop_with_parent if sys.platform.startswith("linux") else None
        _process = subprocess.Popen(command(), cwd=EXAMPLE_DIR, preexec_fn=preexec)
    return _process


def stop(timeout: float = 15.0) -> None:
    """SIGTERM (the worker finishes its current task), then SIGKILL after ``timeout``."""
    global _process
    process, _process = _process, None
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
