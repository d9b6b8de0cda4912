"""Shared fixtures for the core tests: log capture through the real filter and
formatters, clean package state between tests, and extra database aliases."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import override_settings
from hypothesis import settings as hypothesis_settings

from django_lantern import _release, conf
from django_lantern.health import _drain
from django_lantern.health import _registry as registry
from django_lantern.logging import JsonFormatter, RequestContextFilter, TextFormatter
from tests.helpers import skip_summary
from tests.helpers.sinks import attached

# CI runs the property tests with a fixed seed so a red build is reproducible;
# locally they keep exploring new examples on every run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

CORE_URLS = "tests.urls_core"

# The Sentry and OpenTelemetry fixtures serve tests in several packages (sentry, tracing, scrubbing, jobs, outbound).
pytest_plugins = ["tests.helpers.integrations"]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say why tests were skipped (which service variable is missing) and which suites this run left out."""
    skip_summary.write(terminalreporter, config)


class LogCapture(logging.Handler):
    """A real handler with ``RequestContextFilter``: keeps every record and its
    rendering by both ``JsonFormatter`` and ``TextFormatter``."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.json_formatter = JsonFormatter()
        self.text_formatter = TextFormatter()
        self.records: list[logging.LogRecord] = []
        self.json_lines: list[str] = []
        self.text_lines: list[str] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        json_line = self.json_formatter.format(record)
        text_line = self.text_formatter.format(record)
        with self._lock_records:
            self.records.append(record)
            self.json_lines.append(json_line)
            self.text_lines.append(text_line)

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.json_lines]

    def by_logger(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.parsed() if p["logger"] == name]

    def access(self, name: str = "access") -> list[logging.LogRecord]:
        return [r for r in self.records if r.name == name]

    def everything(self) -> str:
        """Every rendered line, plus every message, joined: for "appears nowhere" checks."""
        messages = [r.getMessage() for r in self.records]
        return "\n".join([*self.json_lines, *self.text_lines, *messages])


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Capture every record (root and the non-propagating ``access`` logger)."""
    with attached(LogCapture()) as handler:
        yield handler


def stop_readiness_workers(deadline: float = 3.0) -> None:
    """Stop the readiness runner and wait (bounded) for its worker threads to exit.

    A stopping worker closes its thread's database connection, so no server
    session outlives the test (PostgreSQL refuses to drop a test database in use).
    """
    registry.get_runner.cache_clear()
    end = time.monotonic() + deadline
    for thread in threading.enumerate():
        if thread.name.startswith("lantern-readyz-"):
            thread.join(timeout=max(0.0, end - time.monotonic()))


@pytest.fixture(autouse=True)
def _clean_lantern_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with fresh settings, readiness runner and drain state, and
    with no release from the environment (a CI run sets GITHUB_SHA and the like)."""
    for name in (*_release.COMMIT_VARIABLES, *_release.RELEASE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    _release.reset()
    conf._validated.cache_clear()
    conf.get_settings.cache_clear()
    registry.get_runner.cache_clear()
    yield
    stop_readiness_workers()
    conf._validated.cache_clear()
    conf.get_settings.cache_clear()
    _release.reset()
    _drain.draining.clear()
    from tests import urls_core

    urls_core.seen_requests.clear()


@pytest.fixture
async def close_thread_connections() -> AsyncIterator[None]:
    """Close the DB connections that async tests open in asgiref's sync thread.

    ``aforce_login`` and sync views under ``async_client`` run in that shared
    thread; under CONN_MAX_AGE > 0 its connection would outlive the test and
    keep the PostgreSQL test database busy at teardown.
    """
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def logging_state() -> Iterator[None]:
    """Restore every logger's handlers, level and propagation after a test that calls dictConfig."""
    manager = logging.Logger.manager
    loggers: list[logging.Logger] = [logging.getLogger()] + [
        lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = [(lg, list(lg.handlers), list(lg.filters), lg.level, lg.propagate, lg.disabled) for lg in loggers]
    try:
        yield
    finally:
        for lg, handlers, filters, level, propagate, disabled in saved:
            lg.handlers[:] = handlers
            lg.filters[:] = filters
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled


def _reload_connection_settings() -> None:
    """``ConnectionHandler.settings`` is cached; drop it so it re-reads DATABASES."""
    connections._settings = None  # type: ignore[attr-defined]
    connections.__dict__.pop("settings", None)


@contextlib.contextmanager
def extra_databases(blocker: Any, **aliases: dict[str, Any]) -> Iterator[None]:
    """Add database aliases for the duration (settings and the connection handler).

    ``blocker`` is pytest-django's ``django_db_blocker``: unblocking it also lifts
    Django's per-test refusal of aliases that were not listed when the test began.
    """
    databases = {**settings.DATABASES, **aliases}
    with warnings.catch_warnings():
        # Django warns that overriding DATABASES is "complex"; the reload below handles it.
        warnings.filterwarnings("ignore", "Overriding setting DATABASES", UserWarning)
        override = override_settings(DATABASES=databases)
        override.enable()
    try:
        _reload_connection_settings()
        with blocker.unblock():
            yield
    finally:
        registry.get_runner.cache_clear()
        for alias in aliases:
            with contextlib.suppress(Exception):
                connections[alias].close()
        override.disable()
        _reload_connection_settings()


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections and never replies."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="black-hole", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.accepted.append(conn)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.accepted)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for conn in self.accepted:
                with contextlib.suppress(OSError):
                    conn.close()
        self.sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    """A server that accepts TCP connections and never answers; closed at teardown."""
    server = BlackHole()
    try:
        yield server
    finally:
        # Closing the accepted sockets unblocks any readiness worker stuck on them.
        server.close()


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
