"""What every configuration shares: Django's ``startproject`` defaults, DEBUG off.

``bare`` is exactly this. Every other configuration adds its own layers on top,
so the difference to ``bare`` is the cost of those layers and nothing else.
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
