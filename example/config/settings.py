"""Settings for the chapter's example project (orgs and tasks) on django-lantern.

With no environment variables it runs on SQLite and the local-memory cache;
``DATABASE_URL`` and ``REDIS_URL`` switch it to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

from config import background_worker
from config.env import database_from_url, debug_from_env
from django_lantern.logging import build_logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

# Off unless asked for: `make run` serves the example as production would, so
# the 403, 404 and 500 pages (with their request id) show, not Django's debug page.
DEBUG = debug_from_env()
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret-" + "x" * 32)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_lantern",
    "pages",
    "tasks",
]

MIDDLEWARE = [
    "django_lantern.middleware.LanternMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the app server itself, as production apps without a
    # separate web server do (WhiteNoise's place: right after SecurityMiddleware).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django_lantern.context_processors.request_id",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    }

# Parallel test runs on one PostgreSQL need distinct test database names
# (SQLite test databases are in memory already).
if os.environ.get("LANTERN_TEST_DB_NAME") and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["LANTERN_TEST_DB_NAME"]}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django_lantern.metrics.cache.RedisCache",  # Django's RedisCache, counted
            "LOCATION": os.environ["REDIS_URL"],
            # Bounded waits: a hung Redis must not hang requests or probes.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            "KEY_PREFIX": os.environ.get("LANTERN_CACHE_PREFIX", "example"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django_lantern.metrics.cache.LocMemCache"}}  # Django's, counted

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# `manage.py collectstatic` (part of `make run`) fills it; WhiteNoise serves it compressed.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tasks:org-list"
LOGOUT_REDIRECT_URL = "login"

# Background jobs (docs/jobs.md): Celery on Redis when REDIS_URL is set,
# otherwise django.tasks (Django 6; the django-tasks backport on 5.2) stored in
# the database and run by `manage.py db_worker`. `make run` starts the worker.
if find_spec("django_tasks_db"):
    if not find_spec("django.tasks"):
        INSTALLED_APPS.append("django_tasks")
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
EXAMPLE_JOBS = background_worker.jobs_backend()
if EXAMPLE_JOBS == "celery":
    CELERY_BROKER_URL = os.environ["REDIS_URL"]
    CELERY_TASK_DEFAULT_QUEUE = os.environ.get("EXAMPLE_CELERY_QUEUE", "example")
    CELERY_TASK_IGNORE_RESULT = True  # the export's state lives in its own row
    # Nothing about logging: instrument(app) (config/celery.py) keeps Django's LOGGING on the worker.
    CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
    # A dead broker must not hang the export request: publish fails fast.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
    CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
# An org with more matching tasks than this exports in the background (tasks.exports).
EXPORT_INLINE_MAX_ROWS = int(os.environ.get("EXAMPLE_EXPORT_INLINE_MAX_ROWS", "500"))

LANTERN = {
    "READINESS_TIMEOUT": float(os.environ.get("LANTERN_READINESS_TIMEOUT", "0.5")),
    # In production, probes every few seconds would drown the access log:
    # LANTERN_PROBE_LOG_SAMPLE=0.01 keeps 1 in 100 (errors and slow ones always).
    # Off by default so that `make run` shows one access line per request.
    "ACCESS_LOG_SAMPLE_PATHS": (
        {r"^/(healthz|readyz)/?$": float(os.environ["LANTERN_PROBE_LOG_SAMPLE"])}
        if os.environ.get("LANTERN_PROBE_LOG_SAMPLE")
        else {}
    ),
    # The Kubernetes startup probe asks for /readyz/migrations:default (docs/health.md).
    "READINESS_CHECKS": ["django_lantern.health.builtin.MigrationsCheck"]
    if os.environ.get("LANTERN_MIGRATIONS_CHECK") == "1"
    else [],
    # Where each statement came from, in a comment a DBA reads in pg_stat_activity
    # (docs/sql-comments.md): LANTERN_SQL_COMMENTS=route,request_id,task,command. Off by default.
    "SQL_COMMENTS": [key for key in os.environ.get("LANTERN_SQL_COMMENTS", "").split(",") if key],
}

LOGGING = build_logging_config(debug=DEBUG)
# Django's error reports (the admins' e-mail, the DEBUG 500 page) through the scrubber.
DEFAULT_EXCEPTION_REPORTER_FILTER = "django_lantern.reporting.ScrubbingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "django_lantern.reporting.ScrubbingExceptionReporter"

# Error tracking and tracing are opt-in by environment, as in production.
# gunicorn loads settings in each worker after the fork (no preload_app), so
# the SDKs' background threads start in the process that uses them.
if os.environ.get("SENTRY_DSN"):
    from django_lantern import sentry

    sentry.init()
if os.environ.get("OTEL_TRACES_EXPORTER") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
    from django_lantern import tracing

    tracing.configure()
