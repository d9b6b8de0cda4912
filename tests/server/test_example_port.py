"""``make run`` on a port of your choice, and a busy port said at once, leaving nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.servers import BIN, EXAMPLE, ROOT

pytestmark = pytest.mark.server

# gunicorn alone retries a busy address five times, a second apart.
FAST = 3.0


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "MAKEFLAGS", "MFLAGS")}
    # TMPDIR: where the made-up metrics directory goes; SQLITE_PATH: what a migration would create.
    return env | {"TMPDIR": str(tmp_path / "tmp"), "SQLITE_PATH": str(tmp_path / "db.sqlite3"), "DATABASE_URL": ""}


def test_gunicorn_on_a_busy_port_fails_at_once_and_leaves_no_metrics_dir(tmp_path: Path, busy_port: int) -> None:
    env = _env(tmp_path)
    (tmp_path / "tmp").mkdir()
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{busy_port}", "config.wsgi"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert elapsed < FAST, f"{elapsed:.1f}s"
    output = done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{busy_port}" in output and f"PORT={busy_port + 1} make run" in output
    assert list((tmp_path / "tmp").iterdir()) == [], "the temporary metrics directory was left behind"


def test_make_run_takes_port_and_stops_before_migrating_when_it_is_busy(tmp_path: Path, busy_port: int) -> None:
    if BIN != ROOT / ".venv" / "bin":
        pytest.skip("make run uses the repository's .venv, and these tests run from another environment")
    env = _env(tmp_path)
    started = time.monotonic()
    done = subprocess.run(
        # -o: the installed stamp counts as up to date (this test never installs).
        ["make", "--no-print-directory", "-o", ".venv/.installed", "run"],
        cwd=ROOT,
        env=env | {"PORT": str(busy_port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{busy_port}" in done.stderr, done.stdout + done.stderr
    assert "migrate" not in done.stdout and not (tmp_path / "db.sqlite3").exists()
    assert elapsed < FAST, f"{elapsed:.1f}s"
