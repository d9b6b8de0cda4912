"""The example's settings for the real-server metrics tests, with three additions.

The cache is swapped for its instrumented twin (the one-line ``BACKEND`` swap
the docs describe), the URLconf gains ``/boom/``, a view that raises, and on
PostgreSQL the database uses Django's psycopg pool, so that every panel of
the dashboard and every rule has data to show.
"""

from __future__ import annotations

import importlib.util

from config.settings import *  # noqa: F403
from config.settings import CACHES, DATABASES

POOLED = DATABASES["default"]["ENGINE"].endswith("postgresql") and importlib.util.find_spec("psycopg_pool") is not None
if POOLED:
    DATABASES = {
        **DATABASES,
        "default": {
            **DATABASES["default"],
            "CONN_MAX_AGE": 0,  # Django refuses persistent connections with a pool
            "OPTIONS": {**DATABASES["default"].get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": 4}},
        },
    }

_INSTRUMENTED = {
    "django.core.cache.backends.locmem.LocMemCache": "django_lantern.metrics.cache.LocMemCache",
    "django.core.cache.backends.redis.RedisCache": "django_lantern.metrics.cache.RedisCache",
    "django.core.cache.backends.db.DatabaseCache": "django_lantern.metrics.cache.DatabaseCache",
}

CACHES = {
    alias: {**conf, "BACKEND": _INSTRUMENTED.get(conf["BACKEND"], conf["BACKEND"])} for alias, conf in CACHES.items()
}
ROOT_URLCONF = "tests.metrics.urls_boom"
