"""The example's settings with the test URLs and tasks, on a SQLite file the
web process and the db_worker share (SQLITE_PATH)."""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.jobs.djtasks_urls"
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
