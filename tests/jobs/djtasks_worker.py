"""Run ``manage.py db_worker`` (django-tasks-db) as a real process, always stopped."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.servers import BIN, EXAMPLE, ROOT, stop_process, whole_lines


def shared_env(tmp: Path, settings_module: str, **extra: str) -> dict[str, str]:
    """The environment a web server and a db_worker share: one SQLite file, JSON lines, no services."""
    env = dict(os.environ)
    env.update(
        {
            # Empty, not absent: run_server lays env over os.environ.
            "DATABASE_URL": "",
            "REDIS_URL": "",
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
            "SQLITE_PATH": str(tmp / "db.sqlite3"),
            "LANTERN_LOG_FORMAT": "json",
            **extra,
        }
    )
    return env


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        """The worker's whole lines so far (one being written is left out)."""
        text = self.log_path.read_text(errors="replace")
        return text if self.process.poll() is not None else whole_lines(text)

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 60.0) -> list[Any]:
        """Poll the worker's JSON lines until ``predicate`` holds; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.json_lines()
            if predicate(lines):
                return lines
            if self.process.poll() is not None:
                raise AssertionError(f"db_worker exited early:\n{self.output()[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"condition not met in {timeout}s; worker output:\n{self.output()[-4000:]}")


def migrate(env: dict[str, str], timeout: float = 120.0) -> None:
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=EXAMPLE,
        env=env,
        check=True,
        timeout=timeout,
        capture_output=True,
    )


@contextlib.contextmanager
def run_db_worker(env: dict[str, str], stop_timeout: float = 15.0) -> Iterator[Worker]:
    """A db_worker polling every 0.1 s, no reloader; SIGTERM then SIGKILL on exit."""
    cmd = [
        str(BIN / "python"),
        "manage.py",
        "db_worker",
        "--interval",
        "0.1",
        "--no-startup-delay",
        "--no-reload",
    ]
    log = tempfile.NamedTemporaryFile(prefix="lantern-db-worker-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=EXAMPLE, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Worker(proc, Path(log.name))
    finally:
        stop_process(proc, stop_timeout)
        log.close()
