"""The gunicorn hooks (django_lantern.gunicorn), with a stand-in worker."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest
from django.test import override_settings

from django_lantern import gunicorn, shutdown


class _Log:
    def info(self, *args: Any) -> None:
        pass


class _Worker:
    def __init__(self) -> None:
        self.log = _Log()
        self.exited = threading.Event()

    def handle_exit(self, signum: int, frame: object) -> None:
        self.exited.set()


@pytest.fixture
def restore_sigterm() -> Any:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@override_settings(LANTERN={"SHUTDOWN_DRAIN_SECONDS": 0.2})
def test_sigterm_drains_then_calls_gunicorns_handler(restore_sigterm: None) -> None:
    """SIGTERM: draining at once, gunicorn's own exit handler only after the drain period."""
    worker = _Worker()
    gunicorn.post_worker_init(worker)
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)
    handler(signal.SIGTERM, None)
    assert shutdown.is_draining()
    assert not worker.exited.is_set()
    assert worker.exited.wait(timeout=5)


@override_settings(LANTERN={"SHUTDOWN_DRAIN_SECONDS": 0})
def test_no_drain_period_stops_at_once(restore_sigterm: None) -> None:
    """With no drain period gunicorn's handler runs immediately."""
    worker = _Worker()
    gunicorn.post_worker_init(worker)
    signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # type: ignore[operator]
    assert worker.exited.is_set()


def test_worker_exit_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    """worker_exit flushes pending events and spans."""
    called: list[bool] = []
    monkeypatch.setattr(shutdown, "flush", lambda: called.append(True) or {})
    gunicorn.worker_exit(object(), _Worker())
    assert called == [True]


class _Config:
    timeout = 2


def _gthread_worker() -> Any:
    """A gunicorn gthread worker, not started: the hook only asks what it is and its config."""
    from gunicorn.workers.gthread import ThreadWorker

    worker = ThreadWorker.__new__(ThreadWorker)
    worker.log, worker.cfg = _Log(), _Config()
    worker.handle_exit = lambda signum, frame: None  # type: ignore[method-assign]
    return worker


@pytest.mark.parametrize(("make", "armed"), [(_gthread_worker, [(2000.0, gunicorn.GTHREAD_TIMEOUT)]), (_Worker, [])])
def test_gthread_arms_the_stuck_request_watcher_with_its_timeout(
    restore_sigterm: None, monkeypatch: pytest.MonkeyPatch, make: Any, armed: list[Any]
) -> None:
    """gthread never kills a busy thread on --timeout: the watcher writes the CRITICAL line instead.
    A sync worker is killed and writes it in worker_abort: no watcher for it."""
    calls: list[tuple[float, str]] = []
    monkeypatch.setattr(gunicorn, "watch_unkilled_timeout", lambda ms, reason: calls.append((ms, reason)))
    gunicorn.post_worker_init(make())
    assert calls == armed
