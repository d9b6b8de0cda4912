"""Database connections: opened and failed, counted per alias, the error re-raised unchanged."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from django_lantern.metrics import _db as db
from tests.conftest import closed_port, extra_databases
from tests.helpers.services import require_postgres
from tests.metrics.conftest import value


def opened(alias: str) -> float:
    return value("django_db_new_connections_total", {"alias": alias})


def failed(alias: str) -> float:
    return value("django_db_new_connection_errors_total", {"alias": alias})


@pytest.mark.django_db(transaction=True)
def test_each_new_connection_is_counted_by_alias() -> None:
    """A connection opened in a new thread adds one; the error counter of the alias appears at 0."""
    before = opened("default")

    def in_thread() -> None:
        try:
            connections["default"].ensure_connection()
        finally:
            connections["default"].close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(timeout=30)
    assert opened("default") == before + 1
    assert failed("default") == 0
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("django_db_new_connection_errors_total", {"alias": "default"}) == 0


def _attempt(alias: str) -> BaseException:
    with pytest.raises(OperationalError) as caught:
        connections[alias].ensure_connection()
    return caught.value


def test_failed_connection_is_counted_and_reraised(django_db_blocker: Any, tmp_path: Path) -> None:
    """SQLite in a directory that does not exist cannot open: counted for its alias, error unchanged."""
    broken = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "missing" / "db.sqlite3")}
    with extra_databases(django_db_blocker, broken=broken):
        error = _attempt("broken")
        _attempt("broken")
        # Read inside: leaving restores DATABASES, and a settings change rebuilds the families.
        assert failed("broken") == 2
        assert opened("broken") == 0
    assert "unable to open database file" in str(error)


@pytest.mark.services
def test_refused_postgres_connection_is_counted(django_db_blocker: Any) -> None:
    """A PostgreSQL alias whose port refuses connections: each attempt is one failure."""
    require_postgres()
    default = connections.settings["default"]
    refused = {**default, "HOST": "127.0.0.1", "PORT": str(closed_port()), "OPTIONS": {"connect_timeout": 2}}
    with extra_databases(django_db_blocker, refused=refused):
        _attempt("refused")
        assert failed("refused") == 1
        assert opened("refused") == 0


def test_connect_wrapper_is_installed_once() -> None:
    """install() wraps Django's BaseDatabaseWrapper.connect once; installing again adds no second wrapper."""
    ours = db._wrap_connect()
    db.install()
    assert db._wrap_connect() is ours
    assert ours.__wrapped__.__module__ == BaseDatabaseWrapper.__module__  # type: ignore[attr-defined]
    # Ours, or inside another wrapper added since (sentry-sdk, for one, wraps connect too).
    chain = [BaseDatabaseWrapper.connect]
    while hasattr(chain[-1], "__wrapped__"):
        chain.append(chain[-1].__wrapped__)
    assert chain.count(ours) == 1
