"""Regression: the readiness database check honours CONN_MAX_AGE after its run.

It used to leave its thread's connection open until the next probe even with
CONN_MAX_AGE=0 (Django's default), so on PostgreSQL the chapter's ReadyzTests
made Django's test runner fail to drop the test database ("being accessed by
other users").
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from django_lantern.health._database import DatabaseCheck
from tests.helpers.services import require_postgres

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def _open_after_check() -> bool:
    """Run the check in a fresh thread, as the readiness worker does; report if its connection stayed open."""
    seen: dict[str, bool] = {}

    def probe() -> None:
        check = DatabaseCheck("default")
        try:
            check.run()
            seen["open"] = check._wrapper.connection is not None
        finally:
            check.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=10)
    return seen["open"]


@pytest.mark.parametrize(("max_age", "left_open"), [(0, False), (60, True), (None, True)])
def test_database_check_honours_conn_max_age(monkeypatch: Any, max_age: int | None, left_open: bool) -> None:
    """CONN_MAX_AGE=0 closes the probe's connection after each run; a positive or unlimited age keeps it."""
    require_postgres()
    # The check copies this dict when it opens its own connection.
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", max_age)
    assert _open_after_check() is left_open
