"""``settings_lantern`` on local PostgreSQL and Redis, for the ``/readyz`` measurement.

``BENCH_DATABASE_URL`` / ``BENCH_REDIS_URL`` override the local defaults. Keys
written by the readiness checks carry their own prefix and expire; nothing is
ever flushed.
"""

import os
from urllib.parse import unquote, urlsplit

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

_db = urlsplit(os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_db.path[1:]),
        "USER": unquote(_db.username or ""),
        "PASSWORD": unquote(_db.password or ""),
        "HOST": _db.hostname or "",
        "PORT": str(_db.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 2},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        "KEY_PREFIX": "lantern-bench",
    }
}
LOGGING = lantern_logging("services")
