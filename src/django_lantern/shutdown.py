"""Graceful shutdown: readiness turns 503 while in-flight requests finish.

``begin_drain()`` is called from the server's SIGTERM path
(``django_lantern.gunicorn`` does it for gunicorn; see docs/reliability.md).
From then on ``/readyz`` answers 503 so the load balancer stops routing here,
while ``/healthz`` stays 200 so the orchestrator does not kill the process
early. After ``LANTERN["SHUTDOWN_DRAIN_SECONDS"]`` the server stops accepting,
finishes what is in flight, and ``flush()`` sends pending error events and
spans before the process exits.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

__all__ = ["begin_drain", "flush", "is_draining"]

logger = logging.getLogger("django_lantern.shutdown")

_draining = threading.Event()
_drain_started: float | None = None

DEFAULT_FLUSH_TIMEOUT = 2.0


def begin_drain() -> None:
    global _drain_started
    if not _draining.is_set():
        _drain_started = time.monotonic()
    _draining.set()


def is_draining() -> bool:
    return _draining.is_set()


def reset_drain() -> None:
    """For tests: leave the draining state."""
    global _drain_started
    _drain_started = None
    _draining.clear()


def drain_seconds() -> float:
    """``LANTERN["SHUTDOWN_DRAIN_SECONDS"]``, or 0 when settings cannot be read."""
    try:
        from django_lantern.conf import get_settings

        return get_settings().shutdown_drain_seconds
    except Exception:
        # Called from a signal path: a settings error must not stop the shutdown.
        return 0.0


# Only SDKs that are already imported are flushed: importing one here could
# pull in an SDK nobody configured. django_lantern.sentry and .tracing set up
# these same SDKs, so this covers them and a project's own set-up alike.
def _flush_sentry(timeout: float) -> None:
    sdk = sys.modules.get("sentry_sdk")
    if sdk is not None and sdk.get_client().is_active():
        sdk.flush(timeout=timeout)


def _flush_tracing(timeout: float) -> None:
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)  # the SDK's provider has it, the API's no-op does not
    if callable(force_flush):
        force_flush(int(timeout * 1000))


def flush(timeout: float = DEFAULT_FLUSH_TIMEOUT) -> dict[str, bool]:
    """Send pending error events and spans, each within ``timeout`` seconds.

    Never raises: a failing integration is logged and reported as ``False``.
    """
    done: dict[str, bool] = {}
    for name, func in (("sentry", _flush_sentry), ("tracing", _flush_tracing)):
        try:
            func(timeout)
            done[name] = True
        except Exception:
            logger.warning("flushing %s at shutdown failed", name, exc_info=True)
            done[name] = False
    return done
