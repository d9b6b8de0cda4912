"""The example's background jobs, on django.tasks or Celery (``settings.EXAMPLE_JOBS``).

``django.tasks`` is Django 6's; on Django 5.2 the ``django-tasks`` backport
provides the same API. With the database backend, ``manage.py db_worker``
runs them (``make run`` starts it beside gunicorn).
"""

from __future__ import annotations

from importlib.util import find_spec

from django.conf import settings

from tasks.exports import run_export

if find_spec("django.tasks"):
    from django.tasks import task
else:
    from django_tasks import task


@task()
def export_tasks(export_id: str) -> int:
    return run_export(export_id)


def enqueue_export(export_id: str) -> None:
    if getattr(settings, "EXAMPLE_JOBS", "django.tasks") == "celery":
        from config.celery import export_tasks as celery_export

        celery_export.delay(export_id)
    else:
        export_tasks.enqueue(export_id)
