"""Reading DJANGO_DEBUG, DATABASE_URL and REDIS_URL without another dependency."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "sqlite": "django.db.backends.sqlite3",
}


def debug_from_env() -> bool:
    """``DEBUG``, off unless ``DJANGO_DEBUG=1``: read by settings.py and gunicorn.conf.py alike,
    so the arbiter's lines and the app's share one format."""
    return os.environ.get("DJANGO_DEBUG", "0") == "1"


def database_from_url(url: str) -> dict[str, Any]:
    """``postgres://user:pass@host:5432/name?connect_timeout=2`` -> a DATABASES entry."""
    parts = urlsplit(url)
    engine = _ENGINES.get(parts.scheme)
    if engine is None:
        raise ImproperlyConfigured(f"DATABASE_URL has scheme {parts.scheme!r}; use postgres://... or sqlite:///path.")
    if engine.endswith("sqlite3"):
        return {"ENGINE": engine, "NAME": unquote(parts.path[1:]) or ":memory:"}
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    # Bounded waits for the request threads' connections (docs/health.md, "Bounded waits"):
    # opening one (libpq waits forever without connect_timeout; psycopg 3 caps it at 130 s) ...
    options.setdefault("connect_timeout", "2")
    # ... and a query on an open one when the network drops it: the kernel would retransmit
    # for about 15 minutes; tcp_user_timeout ends that after 10 s without an acknowledgement,
    # keepalives find a dead peer of an idle connection in about 25 s. (Neither helps when
    # the server's kernel acknowledges but the server never answers: only the readiness
    # check, on its own interruptible connection, is bounded then.)
    options.setdefault("keepalives", "1")
    options.setdefault("keepalives_idle", "10")
    options.setdefault("keepalives_interval", "5")
    options.setdefault("keepalives_count", "3")
    options.setdefault("tcp_user_timeout", "10000")
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path[1:]),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }
