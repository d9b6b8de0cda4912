"""Everything under tests/server/ starts real processes (gunicorn, uvicorn, Celery and django.tasks
workers, Prometheus): it is the ``server`` suite, `make test-server`, never part of `make test`."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from this folder ``server``, so that `-m "not server"` leaves them all out."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.server)
