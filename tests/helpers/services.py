"""Gate tests on the real PostgreSQL and Redis named by DATABASE_URL / REDIS_URL.

Without the variables (or with the server down) such tests skip with a reason,
unless LANTERN_REQUIRE_SERVICES=1 (CI), where that is a failure instead.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REQUIRED = os.environ.get("LANTERN_REQUIRE_SERVICES") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (LANTERN_REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(reason)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _require(var: str, default_port: int) -> str:
    url = os.environ.get(var)
    if not url:
        _unavailable(f"{var} is not set")
        raise AssertionError  # unreachable: skip/fail raise
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    if not _reachable(host, port):
        _unavailable(f"{var} points at {host}:{port}, which is not answering")
    return url


def require_postgres() -> str:
    """The DATABASE_URL of a reachable PostgreSQL, or skip/fail."""
    url = _require("DATABASE_URL", 5432)
    if not url.startswith(("postgres://", "postgresql://")):
        _unavailable("DATABASE_URL is not a PostgreSQL URL")
    return url


def require_redis() -> str:
    """The REDIS_URL of a reachable Redis, or skip/fail."""
    return _require("REDIS_URL", 6379)


def require_binary(name: str, install_hint: str) -> str:
    """The path of an external program (promtool, prometheus), or skip/fail like a missing service."""
    import shutil

    path = shutil.which(name)
    if path is None:
        _unavailable(f"{name} is not installed ({install_hint})")
        raise AssertionError  # unreachable: skip/fail raise
    return path
