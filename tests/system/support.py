"""Shared machinery for the system suite: servers, the database, logs, load, process stats.

Every wait here has a deadline and every loop a count; every socket targets 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from tests.helpers.servers import BIN, EXAMPLE, ROOT, Server, run_server

SYSTEM_DIR = Path(__file__).resolve().parent
GUNICORN_CONF = SYSTEM_DIR / "gunicorn_system.conf.py"

# The nox matrix runs the suite with fewer requests (LANTERN_SYSTEM_SCALE=0.25);
# `make test-system` runs the full counts.
SCALE = float(os.environ.get("LANTERN_SYSTEM_SCALE", "1"))


def scaled(n: int, minimum: int = 1) -> int:
    return max(minimum, int(n * SCALE))


# -- PostgreSQL -----------------------------------------------------------------


def db_name() -> str:
    # Distinct from pytest-django's test database of the same run (same base name).
    return os.environ.get("LANTERN_TEST_DB_NAME", "lantern_system") + "_srv"


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def pg_exec(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn, conn.cursor() as cur:
        cur.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def create_database(admin_url: str) -> str:
    """A fresh, migrated database for the servers; its URL."""
    name = db_name()
    pg_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_exec(admin_url, f'CREATE DATABASE "{name}"')
    url = with_db(admin_url, name)
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=EXAMPLE,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        timeout=120,
    )
    return url


def drop_database(admin_url: str) -> None:
    with contextlib.suppress(Exception):
        pg_exec(admin_url, f'DROP DATABASE IF EXISTS "{db_name()}" WITH (FORCE)')


def pg_connections(admin_url: str) -> int:
    """Client connections to the servers' database right now."""
    rows = pg_exec(admin_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (db_name(),))
    return int(rows[0][0])


# -- servers --------------------------------------------------------------------


def base_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.system.sysettings",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{EXAMPLE}",
        "DJANGO_DEBUG": "0",
        "LANTERN_LOG_FORMAT": "json",
        "DJANGO_LOG_LEVEL": "INFO",
        "LANTERN_SYSTEM_VIEWS": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }


def gunicorn_args(workers: int = 1, threads: int = 4, worker_class: str = "gthread") -> list[str]:
    args = ["-c", str(GUNICORN_CONF), "--workers", str(workers), "--worker-class", worker_class]
    if worker_class == "gthread":
        args += ["--threads", str(threads)]
    return args


def serve(
    kind: str,
    env: dict[str, str],
    *,
    args: Sequence[str] = (),
    stdout: int | IO[bytes] | None = None,
    startup_timeout: float = 30.0,
    stop_timeout: float = 40.0,
) -> contextlib.AbstractContextManager[Server]:
    """Run ``kind`` ("gunicorn" or "uvicorn") on a free port with the system suite's ``env``;
    a longer stop timeout than the helpers' default, since drain tests hold requests open."""
    return run_server(
        kind, args=args, env=env, stdout=stdout, startup_timeout=startup_timeout, stop_timeout=stop_timeout
    )


def wait_for_lines(server: Server, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> bool:
    """Wait (bounded) until the JSON lines written so far satisfy ``predicate``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(server.json_lines()):
            return True
        time.sleep(0.2)
    return False


# -- load -----------------------------------------------------------------------


def run_concurrently(jobs: Sequence[Callable[[], Any]], concurrency: int, timeout: float) -> list[Any]:
    """Run each job once on ``concurrency`` threads; results in job order; bounded by ``timeout``."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(job) for job in jobs]
        deadline = time.monotonic() + timeout
        try:
            return [f.result(timeout=max(0.1, deadline - time.monotonic())) for f in futures]
        except BaseException:
            # The first failure ends the run: jobs not started yet are not waited for.
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def raw_request(port: int, data: bytes, timeout: float = 10.0, max_bytes: int = 1 << 20) -> bytes:
    """Send bytes httpx would refuse to send; read the reply until close, deadline or ``max_bytes``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks: list[bytes] = []
        received = 0
        deadline = time.monotonic() + timeout
        while received < max_bytes and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        return b"".join(chunks)


def status_of(reply: bytes) -> int:
    """The status code of a raw HTTP/1.x reply, 0 when there was none."""
    first = reply.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else 0


# -- process stats --------------------------------------------------------------


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def tcp_connections(pid: int, remote_port: int) -> int:
    """Established TCP connections of process ``pid`` to ``remote_port`` (from /proc)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for row in fh.readlines()[1:]:
                cols = row.split()
                port = int(cols[2].rsplit(":", 1)[1], 16)
                if port == remote_port and cols[3] == "01" and cols[9] in inodes:
                    count += 1
    return count


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels`` (Prometheus text)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                total += sample.value
    return total


def series_count(text: str) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(len(f.samples) for f in text_string_to_metric_families(text))
