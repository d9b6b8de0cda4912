"""Graceful shutdown: readiness turns 503 while in-flight requests finish.

``begin_drain()`` is called from the server's SIGTERM path (the example's
gunicorn config does it in ``worker_int``/``worker_exit``; see docs/health.md).
From then on ``/readyz`` answers 503 so the load balancer stops routing here,
while ``/healthz`` stays 200 so the orchestrator does not kill the process early.
"""

from __future__ import annotations

import threading

_draining = threading.Event()


def begin_drain() -> None:
    _draining.set()


def is_draining() -> bool:
    return _draining.is_set()


def reset_drain() -> None:
    """For tests: leave the draining state."""
    _draining.clear()
