"""Start the example app under a real gunicorn or uvicorn on 127.0.0.1.

Every server gets a free port, a bounded start-up wait, its output captured to
a file, and is stopped (SIGTERM, then SIGKILL) when the context exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example"
BIN = Path(sys.executable).parent


def whole_lines(text: str) -> str:
    """``text`` up to its last newline: a reader polling a live log must not parse a half-written line."""
    return text[: text.rfind("\n") + 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    # The output, kept once the server has stopped and its log file is removed.
    final_output: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the server has written; while it runs, only whole lines (a line being written is left out)."""
        if self.final_output is not None:
            return self.final_output
        text = self.log_path.read_text(errors="replace")
        return text if self.process.poll() is not None else whole_lines(text)

    def json_lines(self) -> list[dict[str, Any]]:
        """Every line of the output that is one of our JSON records (starts with ``{``)."""
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def worker_pids(self) -> list[int]:
        """Gunicorn's workers (the arbiter's children), or the process itself for uvicorn."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            pids = [int(p) for p in children.read_text().split()]
        except OSError:
            pids = []
        return pids or [self.process.pid]


def settings_env(tmp_path: Path, settings_module: str) -> dict[str, str]:
    """The environment of a server on the example with test settings: JSON lines, its own metrics directory."""
    multiproc = tmp_path / "prometheus-multiproc"
    multiproc.mkdir()
    return {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "LANTERN_LOG_FORMAT": "json",
    }


def wait_serving(proc: subprocess.Popen[bytes], url: str, timeout: float, output: Callable[[], str]) -> None:
    """Poll ``url``'s ``/healthz`` until it answers 200; fail with the end of ``output()`` if the process
    exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{output()[-4000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready in {timeout}s:\n{output()[-4000:]}")


def _wait_ready(server: Server, timeout: float) -> None:
    wait_serving(server.process, server.url, timeout, server.output)


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextlib.contextmanager
def run_server(
    kind: str,
    *,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    stdout: int | IO[bytes] | None = None,
    startup_timeout: float = 30.0,
    stop_timeout: float = 15.0,
) -> Iterator[Server]:
    """``kind`` is "gunicorn" (WSGI) or "uvicorn" (ASGI), with extra CLI ``args``.

    Output goes to a temporary file (``Server.output()``), removed when the
    server stops (its content stays readable through ``output()``); with ``stdout``
    given, only stderr does, so a test can hand the server a pipe of its own.
    ``env`` is laid over the environment (default settings: the example's).
    """
    port = free_port()
    if kind == "gunicorn":
        cmd = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", *args, "config.wsgi"]
    elif kind == "uvicorn":
        # uvicorn's own access log would only repeat ours, unstructured.
        cmd = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *args]
        cmd.append("config.asgi:application")
    else:
        raise ValueError(kind)
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **(env or {})}
    log = tempfile.NamedTemporaryFile(prefix=f"lantern-{kind}-", suffix=".log", delete=False)  # noqa: SIM115
    if stdout is None:
        proc = subprocess.Popen(cmd, cwd=EXAMPLE, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    else:
        proc = subprocess.Popen(cmd, cwd=EXAMPLE, env=full_env, stdout=stdout, stderr=log)
    server = Server(proc, port, Path(log.name))
    try:
        _wait_ready(server, startup_timeout)
        yield server
    finally:
        stop_process(proc, stop_timeout)
        log.close()
        # Keep what the server wrote for assertions made after the block, and
        # leave nothing behind in the temporary directory.
        server.final_output = server.log_path.read_text(errors="replace")
        server.log_path.unlink(missing_ok=True)
