"""The draining state: once the server's SIGTERM path begins a drain, ``/readyz`` answers 503.

Kept in health, which reads it on every readiness probe; ``django_lantern.shutdown``
is its public face and also flushes the integrations at exit.
"""

from __future__ import annotations

import threading

from django.dispatch import Signal

from django_lantern.conf import get_settings

draining = threading.Event()

# Sent from a worker thread when the ASGI server stops the application (lifespan
# shutdown, after the requests in flight), for servers that have no hook of ours:
# ``django_lantern.shutdown`` flushes on it (connected in apps.py).
server_stopping = Signal()


def begin_drain() -> None:
    draining.set()


def is_draining() -> bool:
    return draining.is_set()


def drain_seconds() -> float:
    """``LANTERN["SHUTDOWN_DRAIN_SECONDS"]``, or 0 when settings cannot be read."""
    try:
        return get_settings().shutdown_drain_seconds
    except Exception:
        # Called from a signal path: a settings error must not stop the shutdown.
        return 0.0
