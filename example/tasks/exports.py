"""The CSV export of an org's tasks: written inline for a small org, as a
background job for a large one (``EXPORT_INLINE_MAX_ROWS``).

The job runs on Celery when the example is configured for it (``REDIS_URL``)
and on ``django.tasks`` otherwise (``tasks.jobs``). Either way django-lantern
carries the enqueuing request's id to the worker, so the web's access line
and the worker's lines ("tasks exported ...", the ``lantern.task`` line) share
it.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from tasks.models import Export, Org, Task

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger("tasks.views")  # the chapter's exercise-1 line keeps its logger

HEADER = ["id", "title", "description", "status", "assignee", "created_by", "created_at", "updated_at"]
# A cell starting with one of these is run as a formula by spreadsheet apps.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# An identical export asked for again within this many seconds is the same job (a reload).
REUSE_SECONDS = 300


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any]) -> Any: ...


def csv_cell(value: object) -> str:
    """Text for one CSV cell, defused so a spreadsheet never runs it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def org_tasks(org: Org, status: str, q: str) -> QuerySet[Task]:
    tasks = Task.objects.filter(org=org).select_related("assignee", "created_by")
    if status:
        tasks = tasks.filter(status=status)
    if q:
        tasks = tasks.filter(Q(title__icontains=q) | Q(description__icontains=q))
    return tasks


def write_rows(writer: _Writer, tasks: QuerySet[Task]) -> int:
    """The header and one row per task; returns the number of tasks written."""
    writer.writerow(HEADER)
    count = 0
    for task in tasks.iterator(chunk_size=500):
        writer.writerow(
            [
                task.pk,
                csv_cell(task.title),
                csv_cell(task.description),
                task.status,
                csv_cell(task.assignee.get_username() if task.assignee else ""),
                csv_cell(task.created_by.get_username()),
                task.created_at.isoformat(),
                task.updated_at.isoformat(),
            ]
        )
        count += 1
    return count


def log_exported(org: Org, user_id: Any, status: str, q: str, count: int, **extra: Any) -> None:
    """Exercise 1: who exported what. Only the whitelisted filters are logged,
    never the raw query string, cookies or headers. q is free text, so it is
    repr()-quoted: "q='x count=9'" cannot pass for a second count field."""
    logger.info(
        "tasks exported org=%s user_id=%s status=%s q=%r count=%d",
        org.slug,
        user_id,
        status or "-",
        q,
        count,
        extra={"org_slug": org.slug, "filter_status": status, "filter_q": q, "exported_count": count, **extra},
    )


def inline_max_rows() -> int:
    return int(getattr(settings, "EXPORT_INLINE_MAX_ROWS", 500))


def queue_export(org: Org, user: Any, status: str, q: str, request_id: str) -> tuple[Export, bool]:
    """The export job for these filters: a pending one asked for moments ago, or a
    new one, enqueued. Returns it and whether it was enqueued now."""
    recent = timezone.now() - timezone.timedelta(seconds=REUSE_SECONDS)
    pending = Export.objects.filter(
        org=org,
        requested_by=user,
        filter_status=status,
        filter_q=q,
        state__in=[Export.State.QUEUED, Export.State.RUNNING],
        created_at__gte=recent,
    ).first()
    if pending is not None:
        return pending, False
    export = Export.objects.create(org=org, requested_by=user, filter_status=status, filter_q=q, request_id=request_id)
    from tasks import jobs

    try:
        jobs.enqueue_export(str(export.pk))
    except Exception:
        # The queue is down: the export will never run, so say so (a 500 page follows).
        Export.objects.filter(pk=export.pk).update(state=Export.State.FAILED, finished_at=timezone.now())
        raise
    return export, True


def run_export(export_id: str) -> int:
    """The job: write the CSV into the export row. A failure marks it failed and is
    raised again, so the worker logs one ERROR task line and counts a failure."""
    export = Export.objects.select_related("org").get(pk=export_id)
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING)
    try:
        out = io.StringIO()
        count = write_rows(csv.writer(out), org_tasks(export.org, export.filter_status, export.filter_q))
    except Exception:
        Export.objects.filter(pk=export.pk).update(state=Export.State.FAILED, finished_at=timezone.now())
        raise
    Export.objects.filter(pk=export.pk).update(
        state=Export.State.DONE, content=out.getvalue(), row_count=count, finished_at=timezone.now()
    )
    log_exported(
        export.org, export.requested_by_id, export.filter_status, export.filter_q, count, export_id=str(export.pk)
    )
    return count
