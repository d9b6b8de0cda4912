"""What every configuration shares: Django's ``startproject`` defaults, DEBUG off.

``bare`` is exactly this. Every other configuration adds its own layers on top,
so the difference to ``bare`` is the cost of those layers and nothing else.
The ``lite*`` configurations start from ``LITE_APPS`` / ``LITE_MIDDLEWARE``
instead (no sessions, auth, messages) and compare against ``litebare``.
Log files go to ``BENCH_TMP`` (a scratch directory the runner creates).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

TMP = Path(os.environ.get("BENCH_TMP") or tempfile.gettempdir())
CONFIG = os.environ.get("DJANGO_SETTINGS_MODULE", "benchproj.settings_bare").rsplit("_", 1)[-1]

DEBUG = False
SECRET_KEY = "bench-only-not-secret-" + "x" * 40
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
ROOT_URLCONF = "benchproj.urls"
WSGI_APPLICATION = "benchproj.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "benchproj",
]

# ``django-admin startproject``'s list, in its order.
DEFAULT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
MIDDLEWARE = list(DEFAULT_MIDDLEWARE)

# A project without sessions or auth (an API, a service behind a gateway):
# startproject's list less the session, auth and messages middleware.
LITE_APPS = ["django.contrib.contenttypes", "benchproj"]
LITE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The JSON view never touches the database; anonymous requests carry no session cookie.
DATABASES: dict[str, dict[str, Any]] = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(TMP / "bench.sqlite3")},
}
CACHES: dict[str, dict[str, Any]] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def log_file(name: str) -> str:
    return str(TMP / f"{name}.log")


# Bare Django writes nothing per 200 response; 404 warnings (memory run) go to a file.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"file": {"class": "logging.FileHandler", "filename": log_file(CONFIG)}},
    "root": {"handlers": ["file"], "level": "INFO"},
}


def lantern_logging(name: str, log_format: str = "json", handler: str = "package") -> dict[str, Any]:
    """``build_logging_config()`` as a project would use it, its handler writing to a file.

    ``handler="package"`` keeps the package's writing handler (``SafeStreamHandler``,
    ``nonblocking=False``: the line is written in the request thread, where the
    benchmark counts it) and only replaces its ``stream`` by an open file, so the
    benchmark times the package's own handler and not a terminal. ``handler="file"`` puts
    a plain ``logging.FileHandler`` in its place, carrying the package's
    ``JsonFormatter`` and ``RequestContextFilter`` (what a project with its own
    ``LOGGING`` dict would write). ``handler="queued"`` keeps the package's default,
    ``NonBlockingStreamHandler``: the line is formatted in the request thread and written
    by the handler's own thread.
    """
    from django_lantern.logging import build_logging_config

    config = build_logging_config(level="INFO", log_format=log_format, nonblocking=handler == "queued")
    console = config["handlers"]["console"]
    if handler == "file":
        config["formatters"]["json"] = {"()": "django_lantern.logging.formatters.JsonFormatter"}
        config["filters"]["request_context"] = {"()": "django_lantern.logging.filters.RequestContextFilter"}
        config["handlers"]["console"] = {
            "class": "logging.FileHandler",
            "filename": log_file(name),
            "formatter": "json",
            "filters": ["request_context"],
        }
    elif "stream" in console:
        console["stream"] = open(log_file(name), "a", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    else:  # a handler that takes no stream: fall back to a plain file handler
        config["handlers"]["console"] = {
            "class": "logging.FileHandler",
            "filename": log_file(name),
            "formatter": console["formatter"],
            "filters": console["filters"],
        }
    return config
