"""Who configures a worker's logging (``django_lantern.celery._logging``)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import signals

from django_lantern.celery import _logging


@pytest.fixture(autouse=True)
def _disconnect() -> Iterator[None]:
    yield
    signals.setup_logging.disconnect(dispatch_uid=_logging.SETUP_UID)
    signals.setup_logging.disconnect(dispatch_uid="tests.own")


def _ours_connected() -> bool:
    return any(key[0] == _logging.SETUP_UID for key, _ in signals.setup_logging.receivers)


def _worker() -> SimpleNamespace:
    return SimpleNamespace(emit_banner="celery's", hostname="w@h", concurrency=2, app=None)


def test_the_default_worker_keeps_djangos_logging_and_logs_its_banner() -> None:
    worker = _worker()
    _logging.on_worker_starting(instance=worker, conf=SimpleNamespace(worker_hijack_root_logger=True))
    assert _ours_connected() and callable(worker.emit_banner)


def test_hijack_off_is_the_owners_choice() -> None:
    worker = _worker()
    _logging.on_worker_starting(instance=worker, conf=SimpleNamespace(worker_hijack_root_logger=False))
    assert not _ours_connected() and worker.emit_banner == "celery's"


def test_an_own_setup_logging_receiver_wins() -> None:
    def own(**_: Any) -> None: ...

    signals.setup_logging.connect(own, weak=False, dispatch_uid="tests.own")
    worker = _worker()
    _logging.on_worker_starting(instance=worker, conf=SimpleNamespace(worker_hijack_root_logger=True))
    assert not _ours_connected() and worker.emit_banner == "celery's"
