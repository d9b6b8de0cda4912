"""Deploy checks: database and cache aliases whose waits nothing bounds (docs/checks.md).

The readiness checks bound their own waits (their own connection and client);
these warnings are about the request threads, which use the aliases as
configured: a PostgreSQL alias without ``connect_timeout`` waits for a dead
host for as long as the OS tries (psycopg 3: 130 s), and a Redis cache without
``socket_timeout`` waits for a reply forever on redis-py 5 (5 s on redis-py 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

if TYPE_CHECKING:
    from django.apps import AppConfig

W020_POSTGRES_UNBOUNDED = (
    "DATABASES[{alias!r}] (PostgreSQL) sets no connect_timeout: opening a connection to an unreachable "
    "server waits for as long as the OS tries.",
    'Set OPTIONS {{"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, '
    '"keepalives_count": 3, "tcp_user_timeout": 10000}}; see docs/health.md, "Bounded waits".',
)
W021_REDIS_UNBOUNDED = (
    "CACHES[{alias!r}] (RedisCache) sets no {missing}: a request waits for an unresponsive Redis "
    "forever on redis-py 5, 5 s on redis-py 8.",
    'Set OPTIONS {{"socket_connect_timeout": 1, "socket_timeout": 1}}; see docs/health.md, "Bounded waits".',
)


def _is_redis_cache(backend: object) -> bool:
    if not isinstance(backend, str):
        return False
    if backend == "django.core.cache.backends.redis.RedisCache":
        return True
    try:
        from django.core.cache.backends.redis import RedisCache
        from django.utils.module_loading import import_string

        cls = import_string(backend)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, RedisCache)


@register(Tags.database, Tags.caches, deploy=True)
def check_bounded_waits(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    """Database and cache aliases that request threads would wait on without a bound."""
    return _unbounded_databases() + _unbounded_caches()


def _unbounded_databases() -> list[CheckMessage]:
    databases = getattr(settings, "DATABASES", None) or {}
    msg, hint = W020_POSTGRES_UNBOUNDED
    return [
        Warning(msg.format(alias=alias), hint=hint, id="lantern.W020")
        for alias, conf in databases.items()
        if str(conf.get("ENGINE", "")).endswith("postgresql") and not (conf.get("OPTIONS") or {}).get("connect_timeout")
    ]


def _unbounded_caches() -> list[CheckMessage]:
    caches = getattr(settings, "CACHES", None) or {}
    msg, hint = W021_REDIS_UNBOUNDED
    messages: list[CheckMessage] = []
    for alias, conf in caches.items():
        if not _is_redis_cache(conf.get("BACKEND")):
            continue
        options = conf.get("OPTIONS") or {}
        missing = [key for key in ("socket_timeout", "socket_connect_timeout") if not options.get(key)]
        if missing:
            messages.append(
                Warning(msg.format(alias=alias, missing=" or ".join(missing)), hint=hint, id="lantern.W021")
            )
    return messages
