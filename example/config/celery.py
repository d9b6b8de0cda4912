"""The example's Celery app, used when ``REDIS_URL`` is set (``settings.EXAMPLE_JOBS``).

``make run`` starts ``celery -A config worker`` beside gunicorn in that case
(config/background_worker.py). ``instrument(app)`` runs in both processes:
the web publishes the request id in the message headers, the worker binds it
for each run and writes the task line (docs/jobs.md).
"""

from __future__ import annotations

import os

from celery import Celery

from django_lantern.celery import instrument

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("example")
app.config_from_object("django.conf:settings", namespace="CELERY")
instrument(app)


@app.task(name="tasks.export_tasks")
def export_tasks(export_id: str) -> int:
    from tasks.exports import run_export

    return run_export(export_id)
