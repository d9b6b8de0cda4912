"""The example's settings for the real-server metrics tests, with two additions.

The cache is swapped for its instrumented twin (the one-line ``BACKEND`` swap
the docs describe) and the URLconf gains ``/boom/``, a view that raises, so
that every panel of the dashboard and every rule has data to show.
"""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import CACHES

_INSTRUMENTED = {
    "django.core.cache.backends.locmem.LocMemCache": "django_lantern.metrics.cache.LocMemCache",
    "django.core.cache.backends.redis.RedisCache": "django_lantern.metrics.cache.RedisCache",
    "django.core.cache.backends.db.DatabaseCache": "django_lantern.metrics.cache.DatabaseCache",
}

CACHES = {
    alias: {**conf, "BACKEND": _INSTRUMENTED.get(conf["BACKEND"], conf["BACKEND"])} for alias, conf in CACHES.items()
}
ROOT_URLCONF = "tests.metrics.urls_boom"
