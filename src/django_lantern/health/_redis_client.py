"""A Redis client of the cache check's own, with waits bounded by the check's timeout.

Django's ``RedisCache`` hands its ``OPTIONS`` to redis-py's connection pool.
Without ``socket_timeout`` redis-py 5 waits for a reply forever, so a check
sent into a black-holed Redis kept its thread for as long as the kernel kept
the connection (about 15 minutes); redis-py 8 waits 5 s by default, and a
client that builds its own pool retries a timed-out command 3 times with
backoff. Both are longer than a probe's budget. The check therefore talks to
the cache's first (write) server through a one-connection pool of its own:
the cache's URL and options, with connect and read timeouts of at most the
check's budget and no retries. The application's own pool is left as it is.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache


def bounded_client(cache: Any, seconds: float) -> Any | None:
    """A ``redis.Redis`` for ``cache``'s write server, or None for other backends."""
    if not isinstance(cache, RedisCache):
        return None
    inner = cache._cache  # RedisCacheClient: its servers, pool class and options (Django >= 4.0)
    servers = getattr(inner, "_servers", None)
    pool_class = getattr(inner, "_pool_class", None)
    options = getattr(inner, "_pool_options", None)
    if not servers or pool_class is None or options is None:
        return None
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    def bounded(key: str) -> float:
        configured = options.get(key)
        return seconds if not configured else min(float(configured), seconds)

    pool = pool_class.from_url(
        servers[0],
        **{
            **options,
            "socket_timeout": bounded("socket_timeout"),
            "socket_connect_timeout": bounded("socket_connect_timeout"),
            "retry_on_timeout": False,
            "retry": Retry(NoBackoff(), 0),
            "max_connections": 1,
        },
    )
    return redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
