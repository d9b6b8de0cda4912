"""Settings for the job subprocesses (management commands, Celery workers): JSON logs on stdout."""

from __future__ import annotations

import json
import os

from django_lantern.logging import build_logging_config

SECRET_KEY = "jobs-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
INSTALLED_APPS = ["django_lantern", "tests.jobs"]
MIDDLEWARE = ["django_lantern.middleware.LanternMiddleware"]
ROOT_URLCONF = "tests.jobs.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# The tests pass extra LANTERN keys as JSON (command id switches, the task metrics port).
LANTERN = json.loads(os.environ.get("JOBS_LANTERN", "{}"))
# JSON unless a test asks for another format (the cost fields' tests run all five).
LOGGING = build_logging_config(log_format=os.environ.get("JOBS_LOG_FORMAT", "json"), level="INFO")
