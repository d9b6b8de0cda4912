"""Built-in readiness checks, each opt-in by its dotted path in ``LANTERN["READINESS_CHECKS"]``.

=============================================  ====================  ===============
dotted path                                    check name            default timeout
=============================================  ====================  ===============
``django_lantern.health.builtin.MigrationsCheck``       ``migrations:default``  2 s
``django_lantern.health.builtin.StorageCheck``          ``storage:default``     1 s
``django_lantern.health.builtin.DiskSpaceCheck``        ``disk``                READINESS_TIMEOUT
``django_lantern.health.builtin.CeleryBrokerCheck``     ``celery:broker``       1 s
``django_lantern.health.builtin.CeleryWorkersCheck``    ``celery:workers``      1 s
=============================================  ====================  ===============

Each runs under the runner's rules like any check (its own thread, single
flight, shared verdicts, its timeout enforced); ``READINESS_CHECK_TIMEOUTS``
overrides a timeout and ``READINESS_NON_CRITICAL`` makes one non-critical.
Failure messages are public-safe: counts and sizes, never a host or a path.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from django_lantern.conf import get_settings
from django_lantern.health._base import CheckFailed, ReadinessCheck
from django_lantern.health._database import DatabaseCheck
from django_lantern.health._database import _shutdown_fd as shutdown_fd

__all__ = ["CeleryBrokerCheck", "CeleryWorkersCheck", "DiskSpaceCheck", "MigrationsCheck", "StorageCheck"]


class MigrationsCheck(ReadinessCheck):
    """Every migration on disk is applied on the default database (for startup probes and rollouts).

    Reads the migration table on a connection of its own (bounded
    ``connect_timeout``, as ``db:<alias>``), closed after each run. Run it in
    the check's thread only (the runner does): it stands in for that thread's
    ``connections[alias]`` while it runs.
    """

    check_name = f"migrations:{DEFAULT_DB_ALIAS}"
    kind = "migrations"
    timeout = 2.0
    alias = DEFAULT_DB_ALIAS

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._wrapper: Any = None  # the connection of the run in flight, for interrupt()

    def prepare(self) -> None:
        # Importing every app's migration modules is the slow part, once: before the first deadline.
        from django.db.migrations.loader import MigrationLoader

        MigrationLoader(None, ignore_no_migrations=True)

    def run(self) -> None:
        from django.db.migrations.executor import MigrationExecutor

        opener = DatabaseCheck(self.alias)
        opener.budget = self.budget
        wrapper = opener._new_wrapper()
        # The recorder reads the table through the ORM, i.e. connections[alias]:
        # for this (the check's own) thread alone, that is our wrapper.
        connections[self.alias] = wrapper
        with self._lock:
            self._wrapper = wrapper
        try:
            executor = MigrationExecutor(wrapper)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        finally:
            with self._lock:
                self._wrapper = None
            with contextlib.suppress(Exception):
                wrapper.close()
            del connections[self.alias]
        if plan:
            raise CheckFailed(f"{len(plan)} migration(s) not applied")

    def interrupt(self) -> None:
        """Shut the run's socket down: a query stuck on a silent connection raises at once."""
        with self._lock:
            fileno = getattr(getattr(self._wrapper, "connection", None), "fileno", None)
            if fileno is not None:
                with contextlib.suppress(Exception):
                    shutdown_fd(int(fileno()))


class StorageCheck(ReadinessCheck):
    """The default storage accepts a small, uniquely named file, reads it back and deletes it."""

    check_name = "storage:default"
    kind = "storage"
    timeout = 1.0

    def run(self) -> None:
        from django.core.files.base import ContentFile
        from django.core.files.storage import storages

        storage = storages["default"]
        token = uuid.uuid4().hex
        name = storage.save(f"lantern-readyz-{token}.txt", ContentFile(token.encode()))
        try:
            with storage.open(name, "rb") as stored:
                if stored.read() != token.encode():
                    raise CheckFailed("file not read back")
        finally:
            storage.delete(name)


class DiskSpaceCheck(ReadinessCheck):
    """The file system of ``READINESS_DISK_PATH`` has at least ``READINESS_DISK_MIN_FREE`` free."""

    check_name = "disk"
    kind = "disk"

    def run(self) -> None:
        options = get_settings().probes
        path = options.disk_path or str(getattr(settings, "MEDIA_ROOT", "") or "") or os.getcwd()
        usage = shutil.disk_usage(path)
        if options.disk_min_free_bytes is not None:
            needed = options.disk_min_free_bytes
        else:
            needed = math.ceil(usage.total * (options.disk_min_free_percent or 0.0) / 100)
        if usage.free < needed:
            raise CheckFailed(f"{usage.free} bytes free, under the {needed} required")


# The apps given to ``django_lantern.celery.instrument()``, which hands them here:
# health sits below the Celery integration and never imports it.
_celery_apps: list[Any] = []


def watch_celery_app(app: Any) -> None:
    """Make ``app`` the one the Celery checks probe, unless an earlier one is (idempotent)."""
    if all(app is not known for known in _celery_apps):
        _celery_apps.append(app)


def instrumented_celery_app() -> Any:
    """The (first) app given to ``django_lantern.celery.instrument()``; CheckFailed when there is none."""
    if not _celery_apps:
        raise CheckFailed("Celery integration not instrumented")
    return _celery_apps[0]


def bounded_connection(app: Any, budget: float) -> Any:
    """A broker connection whose every wait is bounded by ``budget``.

    ``connect_timeout`` bounds opening it; on the Redis transport the socket
    timeouts bound each read too (without them a broker that accepts and
    never answers held the check's thread for as long as the kernel keeps the
    connection; measured over 20 s against a black hole).
    """
    options = {
        **(app.conf.broker_transport_options or {}),
        "socket_timeout": budget,
        "socket_connect_timeout": budget,
    }
    return app.connection_for_write(connect_timeout=budget, transport_options=options)


class _CeleryCheck(ReadinessCheck):
    kind = "celery"
    timeout = 1.0

    def prepare(self) -> None:
        # Loading the transport's modules (kombu, redis-py) takes a while, once: before the first deadline.
        with contextlib.suppress(Exception), bounded_connection(instrumented_celery_app(), self.budget) as conn:
            conn.transport  # noqa: B018  (creates the transport, no network)


class CeleryBrokerCheck(_CeleryCheck):
    """The Celery broker accepts a connection (one try, bounded by the check's timeout)."""

    check_name = "celery:broker"

    def run(self) -> None:
        with bounded_connection(instrumented_celery_app(), self.budget) as connection:
            # max_retries=0 would mean "retry forever" in some kombu versions: one retry, bounded in time.
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=self.budget)


class CeleryWorkersCheck(_CeleryCheck):
    """At least one Celery worker answers a ping within the check's timeout."""

    check_name = "celery:workers"

    def run(self) -> None:
        app = instrumented_celery_app()
        # The replies' wait overshoots by tens of milliseconds (more past 1 s on
        # Redis, which polls in whole seconds): leave a quarter of the budget.
        deadline = time.monotonic() + self.budget * 0.75
        with bounded_connection(app, self.budget) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=self.budget)
            # What is left of the budget, for the replies; limit=1: the first one ends the wait.
            wait = max(0.05, deadline - time.monotonic())
            replies = app.control.ping(timeout=wait, limit=1, connection=connection)
        if not replies:
            raise CheckFailed("no worker answered a ping")
