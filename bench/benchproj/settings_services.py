"""``settings_lantern`` on local PostgreSQL and Redis, for the ``/readyz`` measurement.

``BENCH_DATABASE_URL`` / ``BENCH_REDIS_URL`` override the local defaults. Keys
written by the readiness checks carry their own prefix and expire; nothing is
ever flushed.
"""

import os
import sys
from pathlib import Path

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

# The example project's DATABASE_URL parser, rather than a copy of it.
sys.path.append(str(Path(__file__).resolve().parents[2] / "example"))
from config.env import database_from_url

DATABASES = {
    "default": database_from_url(os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"))
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
