"""The test Celery app (tests/jobs/celery_app.py) plus a task that holds a statement open:
``celery -A tests.server.sqlcomments_celery worker``, with the settings of
tests/server/sqlcomments_settings.py (on the PostgreSQL of ``DATABASE_URL``)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.server.sqlcomments_settings")

from django.db import connection

from tests.jobs.celery_app import app

__all__ = ["app", "sleep"]


@app.task(name="sqlc.sleep")
def sleep(seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])
