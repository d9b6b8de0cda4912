"""Fixtures for the system suite: real PostgreSQL and Redis, a migrated database for the servers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.services import require_postgres, require_redis
from tests.system import support


@dataclass(frozen=True)
class Services:
    admin_url: str  # DATABASE_URL as given (for pg_stat_activity and CREATE DATABASE)
    database_url: str  # the servers' own, migrated database
    redis_url: str


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    admin_url = require_postgres()
    redis_url = require_redis()
    database_url = support.create_database(admin_url)
    try:
        yield Services(admin_url, database_url, redis_url)
    finally:
        support.drop_database(admin_url)


@pytest.fixture
def env(services: Services) -> dict[str, str]:
    """The environment every server of the suite starts with (a fresh copy per test)."""
    return support.base_env(services.database_url, services.redis_url)


@pytest.fixture(autouse=True)
def _quiet_httpx() -> None:
    """Thousands of requests: httpx's per-request INFO lines would bury a failure."""
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
