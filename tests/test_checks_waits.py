"""lantern.W020 / W021: database and cache aliases whose waits nothing bounds."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_lantern.checks import check_bounded_waits

PG = {"ENGINE": "django.db.backends.postgresql", "NAME": "app"}
REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/0"}


def _ids(databases: dict[str, Any], caches: dict[str, Any]) -> list[str]:
    with override_settings(DATABASES=databases, CACHES=caches):
        return [m.id or "" for m in check_bounded_waits()]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_unbounded_postgres_and_redis_are_warned_about() -> None:
    """No connect_timeout on PostgreSQL, no socket timeouts on a RedisCache (or a subclass): one warning each."""
    counted = {**REDIS, "BACKEND": "django_lantern.metrics.cache.RedisCache"}
    assert _ids({"default": PG}, {"default": REDIS, "counted": counted}) == [
        "lantern.W020",
        "lantern.W021",
        "lantern.W021",
    ]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_bounded_aliases_and_other_backends_are_quiet() -> None:
    """Bounded PostgreSQL and Redis, SQLite and the local-memory cache give no warning."""
    databases = {
        "default": {**PG, "OPTIONS": {"connect_timeout": 2}},
        "lite": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    }
    caches = {
        "default": {**REDIS, "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1}},
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    assert _ids(databases, caches) == []


def test_the_example_settings_pass() -> None:
    """The example's own DATABASES/CACHES (from DATABASE_URL / REDIS_URL) are bounded."""
    assert check_bounded_waits() == []
