"""Stopping and restarting the real PostgreSQL and Redis, always restored in a ``finally``.

Other test runs share these servers: outages are kept to seconds, and Redis
is stopped with SHUTDOWN SAVE so its keys come back when it restarts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REDIS_DIR = Path("/var/lib/redis")
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    str(REDIS_DIR),
    "--logfile",
    "/var/log/redis/ci.log",
]


def _pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[0]


def _refuse_shared() -> None:
    # Tests never stop the machine's shared servers (other test runs use them);
    # faults come from a loopback proxy. Kept only until the suite moves to it.
    import pytest

    if os.environ.get("LANTERN_ALLOW_STOPPING_SHARED_SERVERS") != "1":
        pytest.skip("stopping the shared PostgreSQL/Redis is not allowed; faults come from the loopback proxy")


def _pg_ctl(action: str) -> None:
    _refuse_shared()
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            _pg_version(),
            "main",
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )


def pg_accepting() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], timeout=10).returncode == 0


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def postgres_stopped() -> Iterator[None]:
    """PostgreSQL is down inside the block and started again (and waited for) after it."""
    try:
        _pg_ctl("stop")
        yield
    finally:
        if not pg_accepting():
            _pg_ctl("start")
        if not _wait(pg_accepting, 60):
            raise RuntimeError("PostgreSQL did not come back within 60 s")


@contextlib.contextmanager
def redis_stopped() -> Iterator[None]:
    """Redis is down inside the block; restarted with CI's command, keys restored from the dump."""
    _refuse_shared()
    try:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "save"], timeout=30, capture_output=True
        )
        _wait(lambda: not redis_up(), 10)
        yield
    finally:
        if not redis_up():
            REDIS_DIR.mkdir(parents=True, exist_ok=True)
            Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
            subprocess.run(REDIS_START, check=True, timeout=30, capture_output=True)
        if not _wait(redis_up, 30):
            raise RuntimeError("Redis did not come back within 30 s")
        # The dump only carried the keys across this restart; CI starts Redis empty.
        with contextlib.suppress(OSError):
            (REDIS_DIR / "dump.rdb").unlink()


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers.

    Tracks how many connections are open at once: with single-flight readiness
    checks that is at most one per dependency, however many probes arrive.
    """

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.open_now = 0
        self.max_open = 0
        self.accepted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                self._reap()
                continue
            conn.setblocking(False)
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1
            self._reap()

    def _reap(self) -> None:
        """Drop connections the client closed; count the ones still open."""
        alive = []
        for conn in self._conns:
            try:
                data = conn.recv(65536, socket.MSG_PEEK)
                if data == b"":
                    conn.close()
                    continue
                conn.recv(65536)  # swallow the startup packet, never answer
            except BlockingIOError:
                pass
            except OSError:
                conn.close()
                continue
            alive.append(conn)
        with self._lock:
            self._conns = alive
            self.open_now = len(alive)
            self.max_open = max(self.max_open, self.open_now)
