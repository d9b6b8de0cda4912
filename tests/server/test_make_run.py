"""`make run`'s server, as a newcomer starts it: every line it prints is JSON.

The server command is the one `make run` runs, read from ``make -n run`` (so
the test follows the Makefile), started after the recipe's set-up steps with
the caller's environment cleared of everything a bare shell lacks (no
``DJANGO_DEBUG``, no ``LANTERN_LOG_FORMAT``). stdout and stderr are captured
apart, from gunicorn's first line to its last after SIGTERM (which is when the
master prints ``Handling signal``): the master's, the workers', the background
worker's and the app's lines must each parse as one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import ROOT, free_port, wait_serving

pytestmark = pytest.mark.server

CLEARED_PREFIXES = ("LANTERN_", "PROMETHEUS_", "SENTRY_", "OTEL_", "DJANGO_", "GUNICORN_")
CLEARED = ("DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY")


def _recipe(env: dict[str, str], port: int) -> list[str]:
    """The shell lines `make run` would run, in order (``make -n`` prints them without running them)."""
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in dry.stdout.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _non_json(text: str) -> list[str]:
    bad = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            bad.append(line)
    return bad


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the recipe's process group (shell, master, workers, job worker); wait until all are gone."""
    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("make run's server did not stop within 45 s of SIGTERM")


def test_every_line_make_run_prints_is_json(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(CLEARED_PREFIXES)}
    env.update(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        PYTHONUNBUFFERED="1",
        # The bind, for a Makefile without a PORT variable; a --bind of the recipe's own wins over it.
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
    )
    *setup, serve = _recipe(env, port)
    assert "gunicorn" in serve, serve
    for line in setup:  # migrate, collectstatic, the demo data: not the server, their output is not checked
        subprocess.run(line, shell=True, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)

    out_path, err_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(serve, shell=True, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_serving(proc, base, 60, err_path.read_text)
        for path, status in [("/", 200), ("/readyz", 200), ("/metrics", 200), ("/no-such-page/", 404)]:
            assert httpx.get(base + path, timeout=10).status_code == status, path
    finally:
        _stop_group(proc)

    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    everything = stdout + stderr
    assert "Handling signal" in everything, everything[-3000:]  # the master's own line on SIGTERM
    assert '"status":404' in everything.replace(" ", ""), everything[-3000:]  # the app's access line
    assert _non_json(stdout) == [], "stdout lines that are not JSON"
    assert _non_json(stderr) == [], "stderr lines that are not JSON"
