"""The ``db:<alias>`` check, on a connection of its own that a stuck query cannot keep.

Why its own connection, and not the worker thread's ``connections[alias]``:

- one round trip: its ``SELECT 1`` is the health check. Django's
  ``CONN_HEALTH_CHECKS`` would first send a ``SELECT 1`` of its own
  (``is_usable()``), a second round trip that can hang the same way;
- it can be interrupted: nothing in libpq bounds a read on an open connection
  (``connect_timeout`` covers opening it only; ``statement_timeout`` is
  enforced by a server that may be the one not answering). When an attempt
  outlives its deadline the runner calls ``interrupt()``, which shuts the
  socket down under the blocked ``recv``: the driver raises at once and the
  thread is free, instead of waiting for the kernel (about 15 minutes);
- opening it is bounded: ``connect_timeout`` is set to at most
  ``max(2, ceil(timeout))`` seconds (libpq's minimum is 2) for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import socket
import threading
import time
from typing import Any

from django.db import connections

from django_lantern.health._base import ReadinessCheck


def _shutdown_fd(fd: int) -> None:
    """Shut a socket down by descriptor: wakes any thread blocked reading it."""
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()


class DatabaseCheck(ReadinessCheck):
    """``SELECT 1`` on one database alias, on the check's own connection."""

    kind = "db"

    def __init__(self, alias: str) -> None:
        super().__init__(f"db:{alias}")
        self.alias = alias
        self._wrapper: Any = None
        # Guards the socket between the worker thread (which closes it) and an
        # interrupting probe: a closed descriptor number may be reused at once.
        self._socket_lock = threading.Lock()
        self._raw: Any = None

    def _new_wrapper(self) -> Any:
        base = connections[self.alias]
        settings_dict = copy.deepcopy(base.settings_dict)
        settings_dict["CONN_HEALTH_CHECKS"] = False  # our SELECT 1 is the health check
        if base.vendor == "postgresql":
            options = settings_dict.setdefault("OPTIONS", {})
            bound = max(2, math.ceil(self.budget))
            configured = options.get("connect_timeout")
            try:
                configured_s = int(configured) if configured is not None else 0
            except (TypeError, ValueError):
                configured_s = 0
            options["connect_timeout"] = min(configured_s, bound) if configured_s > 0 else bound
        return type(base)(settings_dict, self.alias)

    def run(self) -> None:
        wrapper = self._wrapper
        if wrapper is not None and wrapper.close_at is not None and time.monotonic() >= wrapper.close_at:
            self.close()  # past CONN_MAX_AGE, as Django does for request connections
            wrapper = None
        if wrapper is None or wrapper.connection is None:
            wrapper = self._wrapper = self._new_wrapper()
        try:
            wrapper.ensure_connection()
            with self._socket_lock:
                self._raw = wrapper.connection
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except BaseException:
            self.close()
            raise
        finally:
            with self._socket_lock:
                self._raw = None
        if wrapper.settings_dict.get("CONN_MAX_AGE") == 0:
            # Closed now, as Django does at the end of a request, instead of
            # idling until the next probe (an idle session also makes the test
            # runner's DROP DATABASE fail on PostgreSQL).
            self.close()

    def interrupt(self) -> None:
        with self._socket_lock:
            raw = self._raw
            fileno = getattr(raw, "fileno", None)
            if fileno is None:
                return  # not in a query (connecting is bounded by connect_timeout), or no socket (SQLite)
            with contextlib.suppress(Exception):
                _shutdown_fd(int(fileno()))

    def close(self) -> None:
        wrapper = self._wrapper
        if wrapper is not None:
            with self._socket_lock:
                self._raw = None
            with contextlib.suppress(Exception):
                wrapper.close()
