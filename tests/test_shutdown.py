"""Draining and the shutdown flush (django_lantern.shutdown)."""

from __future__ import annotations

import sys
import types

import pytest
from django.test import override_settings

from django_lantern import shutdown
from django_lantern.health import _drain


def test_drain_state() -> None:
    """begin_drain() is sticky until reset."""
    assert not shutdown.is_draining()
    shutdown.begin_drain()
    shutdown.begin_drain()
    assert shutdown.is_draining()
    _drain.draining.clear()
    assert not shutdown.is_draining()


@override_settings(LANTERN={"SHUTDOWN_DRAIN_SECONDS": 2.5})
def test_drain_seconds_from_settings() -> None:
    """The drain period is LANTERN["SHUTDOWN_DRAIN_SECONDS"]."""
    assert _drain.drain_seconds() == 2.5


@override_settings(LANTERN={"SHUTDOWN_DRAIN_SECONDS": "soon"})
def test_drain_seconds_never_raises() -> None:
    """A bad setting gives 0 (stop without a drain) instead of breaking the signal path."""
    assert _drain.drain_seconds() == 0.0


def test_flush_calls_the_integrations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentry is flushed once within the timeout and then closed (so its own exit
    hook does not wait again); a failing integration is reported, not raised."""
    calls: list[tuple[str, float]] = []

    class Client:
        def is_active(self) -> bool:
            return True

        def flush(self, timeout: float) -> None:
            calls.append(("flush", timeout))

        def close(self, timeout: float) -> None:
            calls.append(("close", timeout))

    sentry_sdk = types.ModuleType("sentry_sdk")
    sentry_sdk.get_client = Client  # type: ignore[attr-defined]

    class Provider:
        def force_flush(self, timeout_millis: int) -> None:
            raise RuntimeError("exporter down")

    trace = types.ModuleType("opentelemetry.trace")
    trace.get_tracer_provider = Provider  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentry_sdk", sentry_sdk)
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", trace)
    result = shutdown.flush(1.5)
    assert result == {"sentry": 0, "tracing": None}
    assert calls == [("flush", 1.5), ("close", 0.0)]
    assert shutdown.describe_flush(result, 1.5) == "exit flush (1.5s): sentry 0 still pending, tracing failed"


def test_flush_without_integrations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in use: nothing to flush, nothing raised."""
    for name in ("django_lantern.sentry", "django_lantern.tracing", "sentry_sdk", "opentelemetry.trace"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert shutdown.flush(0.1) == {}
    assert shutdown.describe_flush({}, 0.1) == "exit flush (0.1s): nothing in use"


def test_the_servers_exit_line_is_written_before_the_process_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn ends the process by raising SIGTERM again, which skips the exit hooks that drain a
    queued handler: the exit line goes through a queued handler up the logger tree and is written
    (the handler flushed) before ``flush_at_server_stop`` returns; a handler that fails to flush
    does not stop the others."""
    import io
    import logging
    import time

    from django_lantern.logging.handlers import NonBlockingStreamHandler

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            pass

        def flush(self) -> None:
            raise OSError("the sink is gone")

    class SlowSink(io.StringIO):
        """A sink that takes its time, so only a flush has the line written by the check below."""

        def write(self, text: str) -> int:
            time.sleep(0.2)
            return super().write(text)

    monkeypatch.setattr(shutdown, "flush", lambda timeout=2.0: {"sentry": 0})
    stream = SlowSink()
    queued = NonBlockingStreamHandler(stream=stream)
    parent = logging.getLogger("django_lantern")
    broken = Broken()
    shutdown.logger.addHandler(broken)
    parent.addHandler(queued)
    old_level, old_propagate = parent.level, shutdown.logger.propagate
    parent.setLevel(logging.INFO)
    shutdown.logger.propagate = True
    try:
        shutdown.flush_at_server_stop()
        assert "lantern: exit flush (2.0s): sentry 0 still pending" in stream.getvalue()
    finally:
        shutdown.logger.removeHandler(broken)
        parent.removeHandler(queued)
        queued.close()
        parent.setLevel(old_level)
        shutdown.logger.propagate = old_propagate
