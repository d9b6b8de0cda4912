"""Multi-process helpers: the directory, the master-start wipe, and dead workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from django_lantern.metrics import multiprocess

WORKER = """
from prometheus_client import Counter, Gauge
Counter("jobs", "jobs").inc(3)
Gauge("busy", "busy", multiprocess_mode="livesum").inc()
import os; print(os.getpid())
"""


@pytest.fixture
def no_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(multiprocess.ENV, raising=False)
    monkeypatch.setattr(multiprocess, "_owned", None)


def _run_worker(directory: Path) -> int:
    env = {**os.environ, multiprocess.ENV: str(directory)}
    out = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return int(out.stdout.strip())


def _values(directory: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return {s.name: s.value for m in registry.collect() for s in m.samples}


def test_prepare_uses_the_variable(no_dir: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An existing PROMETHEUS_MULTIPROC_DIR wins and is created if missing."""
    target = tmp_path / "given" / "deeper"
    monkeypatch.setenv(multiprocess.ENV, str(target))
    assert multiprocess.prepare_multiproc_dir(tmp_path / "ignored") == str(target)
    assert target.is_dir()


def test_prepare_makes_a_private_dir_and_on_exit_removes_it(no_dir: None) -> None:
    """Without the variable a fresh temp dir is made, exported, and removed at master exit."""
    made = multiprocess.prepare_multiproc_dir()
    try:
        assert os.environ[multiprocess.ENV] == made
        assert Path(made).is_dir()
        multiprocess.on_exit(None)
        assert not Path(made).exists()
    finally:
        os.environ.pop(multiprocess.ENV, None)


EXITS_EARLY = """
import os, sys
from django_lantern.metrics.multiprocess import prepare_multiproc_dir
made = prepare_multiproc_dir()
print(made, flush=True)
child = os.fork()
if child == 0:
    sys.exit(0)  # a forked worker's exit runs the inherited atexit handlers too
os.waitpid(child, 0)
print(os.path.isdir(made), flush=True)
sys.exit(1)  # the master gives up before on_exit, as on a busy port
"""


def test_a_master_that_exits_before_on_exit_still_removes_its_dir(tmp_path: Path) -> None:
    """The made-up directory outlives a forked child's exit and is gone when its creator exits early."""
    env = {k: v for k, v in os.environ.items() if k != multiprocess.ENV} | {"TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", EXITS_EARLY], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    made, alive_after_child = out.stdout.split()
    assert Path(made).parent == tmp_path and alive_after_child == "True"
    assert list(tmp_path.iterdir()) == []


def test_on_exit_leaves_a_user_dir_alone(no_dir: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A directory the user named is never deleted."""
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    multiprocess.prepare_multiproc_dir()
    multiprocess.on_exit(None)
    assert tmp_path.is_dir()


def test_wipe_removes_only_metric_files(no_dir: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The master-start wipe deletes the client's *.db files and nothing else."""
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    _run_worker(tmp_path)
    (tmp_path / "keep.txt").write_text("not ours")
    multiprocess.on_starting(None)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    assert multiprocess.wipe_multiproc_dir(tmp_path / "missing") == 0


def test_dead_worker_keeps_counters_and_drops_live_gauges(
    no_dir: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """child_exit after a worker dies: its counter still counts (archived), its files and live gauge are gone."""
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    pid = _run_worker(tmp_path)
    assert _values(tmp_path) == {"jobs_total": 3.0, "busy": 1.0}

    class Worker:
        pass

    worker = Worker()
    worker.pid = pid  # type: ignore[attr-defined]
    multiprocess.child_exit(None, worker)
    assert _values(tmp_path) == {"jobs_total": 3.0}
    assert not list(tmp_path.glob(f"*_{pid}.db"))
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["counter_archive.db"]


def test_mark_dead_without_a_dir_is_a_no_op(no_dir: None) -> None:
    """Single-process mode: nothing to mark."""
    multiprocess.mark_worker_dead(12345)
