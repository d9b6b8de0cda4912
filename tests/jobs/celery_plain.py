"""A user's Celery module as the docs write it, with nothing but ``instrument(app)`` for lantern.

``celery -A tests.jobs.celery_plain worker``: no ``worker_hijack_root_logger``
setting, no ``setup_logging`` receiver; Django is set up by Celery's Django
fixup, as in a project. ``JOBS_BROKER_URL`` and ``JOBS_QUEUE`` come from the test.
"""

from __future__ import annotations

import logging
import os

from celery import Celery

from django_lantern.celery import instrument

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.jobs.settings")

app = Celery("lantern_plain")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    broker_url=os.environ.get("JOBS_BROKER_URL"),
    task_default_queue=os.environ.get("JOBS_QUEUE", "lantern-plain"),
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
)
instrument(app)

logger = logging.getLogger("tests.jobs")


@app.task(name="plain.log")
def log(tag: str) -> None:
    logger.info("plain body", extra={"tag": tag})


@app.task(name="plain.fail")
def fail() -> None:
    raise ValueError("plain task failed on purpose")
