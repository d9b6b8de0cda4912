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
