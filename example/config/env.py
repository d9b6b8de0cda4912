"""Reading DATABASE_URL and REDIS_URL without another dependency."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "sqlite": "django.db.backends.sqlite3",
}


def database_from_url(url: str) -> dict[str, Any]:
    """``postgres://user:pass@host:5432/name?connect_timeout=2`` -> a DATABASES entry."""
    parts = urlsplit(url)
    engine = _ENGINES.get(parts.scheme)
    if engine is None:
        raise ImproperlyConfigured(f"DATABASE_URL has scheme {parts.scheme!r}; use postgres://... or sqlite:///path.")
    if engine.endswith("sqlite3"):
        return {"ENGINE": engine, "NAME": unquote(parts.path[1:]) or ":memory:"}
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    # A probe must never wait on a dead host for the OS's TCP timeout.
    options.setdefault("connect_timeout", "2")
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
