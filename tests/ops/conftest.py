"""The page's tests run on a local-memory cache whatever REDIS_URL says: they clear it, and
they check what the page says about a one-process cache (the shared one: tests/walk, tests/system)."""

from __future__ import annotations

from typing import Any

import pytest

LOCAL_MEMORY = {"default": {"BACKEND": "django_lantern.metrics.cache.LocMemCache"}}


@pytest.fixture(autouse=True)
def local_memory_cache(settings: Any) -> None:
    settings.CACHES = LOCAL_MEMORY
