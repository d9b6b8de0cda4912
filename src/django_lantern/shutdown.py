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

from django_lantern.health._drain import begin_drain, is_draining
from django_lantern.logging._attached import handlers_reached
from django_lantern.sentry._transport import EXIT_REASON, pending_envelopes, record_lost

__all__ = ["begin_drain", "flush", "is_draining"]

logger = logging.getLogger("django_lantern.shutdown")

DEFAULT_FLUSH_TIMEOUT = 2.0


# Only SDKs that are already imported are flushed: importing one here could
# pull in an SDK nobody configured. django_lantern.sentry and .tracing set up
# these same SDKs, so this covers them and a project's own set-up alike.
def _flush_sentry(timeout: float) -> int | None:
    """Wait up to ``timeout`` once, then close the client; the envelopes still pending.

    Closing matters: sentry-sdk's own atexit hook would otherwise flush
    again for its ``shutdown_timeout``, so a dead Sentry cost both waits.
    A closed client makes that hook return at once.
    """
    sdk = sys.modules.get("sentry_sdk")
    if sdk is None:
        return None
    client = sdk.get_client()
    if not client.is_active():
        return None
    client.flush(timeout=timeout)
    pending = pending_envelopes(client)
    client.close(timeout=0.0)  # nothing more to wait for: stop the worker
    if pending:
        try:
            record_lost(EXIT_REASON, "envelope", pending)
        except Exception:
            logger.debug("counting envelopes pending at exit failed", exc_info=True)
    return pending


def _flush_tracing(timeout: float) -> int | None:
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)  # the SDK's provider has it, the API's no-op does not
    if not callable(force_flush):
        return None
    if force_flush(int(timeout * 1000)) is False:
        return -1  # timed out; the span processor does not say how many
    return 0


def flush(timeout: float = DEFAULT_FLUSH_TIMEOUT) -> dict[str, int | None]:
    """At exit: send pending error events and spans, each within ``timeout`` seconds.

    Returns, per integration in use, what was still pending when the wait
    ended: Sentry envelopes (0: all sent), for tracing 0 or -1 (timed out,
    count unknown); ``None`` when flushing raised (logged, never raised).
    The Sentry client is closed afterwards, so its own exit hook does not
    wait a second time: call this once, at exit.
    """
    done: dict[str, int | None] = {}
    for name, func in (("sentry", _flush_sentry), ("tracing", _flush_tracing)):
        try:
            pending = func(timeout)
            if pending is not None:
                done[name] = pending
        except Exception:
            logger.warning("flushing %s at shutdown failed", name, exc_info=True)
            done[name] = None
    return done


def describe_flush(result: dict[str, int | None], timeout: float = DEFAULT_FLUSH_TIMEOUT) -> str:
    """The exit line, e.g. ``exit flush (2.0s): sentry 3 still pending (dropped), tracing 0 still pending``."""
    parts = []
    for name, pending in result.items():
        if pending is None:
            parts.append(f"{name} failed")
        elif pending < 0:
            parts.append(f"{name} timed out")
        else:
            parts.append(f"{name} {pending} still pending" + (" (dropped)" if pending else ""))
    return f"exit flush ({timeout:.1f}s): " + (", ".join(parts) or "nothing in use")


def flush_at_server_stop(sender: object = None, **kwargs: object) -> None:
    """The exit flush where no gunicorn hook runs it: uvicorn's lifespan shutdown (``health.asgi``)."""
    logger.info("lantern: %s", describe_flush(flush()))
    # uvicorn ends the process by raising its signal again, which skips the exit hooks that
    # drain a queued handler: the line just logged is written now, within each handler's bound.
    _flush_log_handlers(logger)


def _flush_log_handlers(start: logging.Logger) -> None:
    """``flush()`` every handler a record of ``start`` reaches; a handler that fails to flush is skipped."""
    for handler in handlers_reached(start):
        try:
            handler.flush()
        except Exception:  # a broken sink must not stop the exit
            continue
