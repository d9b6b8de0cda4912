"""Faults for the system suite, made by loopback proxies in front of the shared servers.

PostgreSQL and Redis on this machine are shared with other test runs: they are
never stopped or reconfigured. A server under test reaches them through a
``FaultProxy`` (tests/helpers/fault_proxy.py), which forwards, refuses or
black-holes its connections on demand.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.helpers.fault_proxy import FaultProxy
from tests.system.conftest import Services


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, f"{netloc[0]}@{host}" if len(netloc) == 2 else host, *parts[2:]))


@dataclass
class Proxied:
    """The servers' environment with PostgreSQL and Redis behind one proxy each."""

    env: dict[str, str]
    postgres: FaultProxy
    redis: FaultProxy

    def proxy(self, dependency: str) -> FaultProxy:
        return self.postgres if dependency == "postgres" else self.redis


@contextlib.contextmanager
def proxied(env: dict[str, str], services: Services) -> Iterator[Proxied]:
    pg_port = urlsplit(services.database_url).port or 5432
    redis_port = urlsplit(services.redis_url).port or 6379
    with FaultProxy(pg_port) as pg, FaultProxy(redis_port) as redis:
        yield Proxied(
            {
                **env,
                "DATABASE_URL": _via(services.database_url, pg.port),
                "REDIS_URL": _via(services.redis_url, redis.port),
            },
            pg,
            redis,
        )


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> float | None:
    """Seconds until ``predicate()`` held (polled every ``interval``), or None after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    return None


# -- redis-py 5 next to the installed one ------------------------------------------

REDIS_PY5_DIR = Path(sys.prefix) / "lantern-redis-py5"


def redis_py5_path() -> str | None:
    """A directory holding redis-py 5 (installed there on first use), for a server's PYTHONPATH.

    The suite's environment has the newest redis-py; Django's RedisCache passes its
    OPTIONS to either, but the defaults differ (5: no socket timeout; 8: 5 s and
    retries), so the Redis scenarios run on both. None when it cannot be installed.
    """
    marker = REDIS_PY5_DIR / ".complete"
    if not marker.exists():
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(REDIS_PY5_DIR), "redis>=5,<6"],
            capture_output=True,
            timeout=300,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        if result.returncode != 0:
            return None
        marker.touch()
    # The server imports the first redis on its PYTHONPATH: make sure it is this one.
    found = subprocess.run(
        [sys.executable, "-c", "import redis; print(redis.__version__)"],
        env={**os.environ, "PYTHONPATH": str(REDIS_PY5_DIR)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    if not found.stdout.startswith("5."):
        return None
    return str(REDIS_PY5_DIR)
