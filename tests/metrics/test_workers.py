"""Choosing the multi-process directory for gunicorn and uvicorn workers (the real servers: tests/server/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn.workers.base import Worker

from django_lantern.metrics import _workers
from django_lantern.metrics._process_start import start_ticks


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(_workers, "_decision", _workers._Decision())
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path


def _worker(count: int, ppid: int, logconfig_json: str | None = None) -> Worker:
    worker = Worker.__new__(Worker)
    cfg = {"workers": count, "logconfig_dict": {}, "logconfig_json": logconfig_json, "logconfig": None}
    worker.cfg = type("Cfg", (), cfg)()  # type: ignore[assignment]
    worker.ppid = ppid
    return worker


def _decide_as(self: object) -> None:
    """``decide()`` called from a method of ``self``, as gunicorn's worker loads the app."""
    assert self is not None
    _workers.decide()


def test_outside_a_server_nothing_is_decided(fresh: Path) -> None:
    _workers.decide()
    assert _workers.refusal() is None and _workers.chosen_directory() is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_a_worker_of_one_is_left_alone(fresh: Path) -> None:
    _decide_as(_worker(1, os.getppid()))
    assert _workers.refusal() is None and "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_client_imported_first_is_refused_with_the_fix(fresh: Path) -> None:
    assert "prometheus_client.values" in sys.modules  # this test process imported it long ago
    _decide_as(_worker(3, os.getppid()))
    message = _workers.refusal()
    assert message is not None
    assert f"one of 3 gunicorn workers (master pid {os.getppid()})" in message
    assert 'PROMETHEUS_MULTIPROC_DIR="$(mktemp -d)"' in message
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_a_set_variable_wins(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(fresh / "mine"))
    _decide_as(_worker(3, os.getppid()))
    assert _workers.refusal() is None and _workers.chosen_directory() is None


def test_the_master_directory_is_private_and_shared_by_its_workers(fresh: Path) -> None:
    workers = _workers.Workers("gunicorn", 2, os.getpid())
    first = _workers._own_directory(workers)
    assert first.name == f"django-lantern-metrics-{os.getpid()}-{start_ticks(os.getpid()) or 0}"
    assert first.stat().st_mode & 0o777 == 0o700
    assert _workers._own_directory(workers) == first  # the second worker finds it


def test_someone_elses_directory_is_refused(fresh: Path) -> None:
    workers = _workers.Workers("uvicorn", 2, os.getpid())
    planted = fresh / f"django-lantern-metrics-{os.getpid()}-{start_ticks(os.getpid()) or 0}"
    planted.mkdir(mode=0o777)
    planted.chmod(0o777)
    with pytest.raises(PermissionError, match="not a private directory"):
        _workers._own_directory(workers)


def test_directories_of_exited_masters_are_removed(fresh: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = fresh / f"django-lantern-metrics-{int(gone.stdout)}-1"
    dead.mkdir(mode=0o700)
    (dead / "counter_1.db").write_bytes(b"")
    reused = fresh / f"django-lantern-metrics-{os.getppid()}-1"  # a live pid, but a different start: gone
    reused.mkdir(mode=0o700)
    alive = fresh / f"django-lantern-metrics-{os.getppid()}-{start_ticks(os.getppid())}"
    alive.mkdir(mode=0o700)
    _workers._own_directory(_workers.Workers("gunicorn", 2, os.getpid()))
    assert not dead.exists() and not reused.exists()
    assert alive.exists()


@pytest.mark.parametrize(("logconfig_json", "text"), [(None, True), ("/etc/logging.json", False)])
def test_a_master_without_logging_configuration_is_noted(fresh: Path, logconfig_json: str | None, text: bool) -> None:
    _decide_as(_worker(1, os.getppid(), logconfig_json))
    assert _workers.detected() == _workers.Workers("gunicorn", 1, os.getppid(), master_logs_text=text)
