"""Views, a task and a command that read each task's org: one query per task (an
N+1) or one join, for the query-insights tests (tests/metrics/test_insights.py)."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from tasks.models import Task

if find_spec("django.tasks"):
    from django.tasks import task
else:
    from django_tasks import task


def org_names(joined: bool = False, limit: int | None = None) -> list[str]:
    tasks = Task.objects.order_by("pk")[:limit]
    if joined:
        tasks = tasks.select_related("org")
    return [t.org.name for t in tasks]  # N_PLUS_ONE_LINE


def _limit(request: HttpRequest) -> int | None:
    return int(request.GET["limit"]) if "limit" in request.GET else None


def names(request: HttpRequest) -> HttpResponse:
    return HttpResponse(", ".join(org_names(joined="joined" in request.GET, limit=_limit(request))))


async def async_names(request: HttpRequest) -> HttpResponse:
    found = await sync_to_async(org_names)(joined="joined" in request.GET, limit=_limit(request))
    return HttpResponse(", ".join(found))


def streamed_names(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(name + "\n" for name in org_names())


# Set by the test: values that reach the view by no request field (so only the statements carry them).
HOSTILE_VALUES: list[str] = []


def _inline_each_value() -> None:
    """Each value inlined as a literal (never do this), six times: an N+1 whose statements carry secrets.
    A helper whose frame is gone when the view fails, so only the statements can carry the values."""
    with connection.cursor() as cursor:
        for _ in range(6):
            for value in HOSTILE_VALUES:
                literal = value.replace("'", "''").replace("%", "%%")
                cursor.execute("SELECT %s = '" + literal + "'", [value])


def hostile(request: HttpRequest) -> HttpResponse:
    _inline_each_value()
    raise RuntimeError("the page failed")


@task()
def org_names_task(joined: bool = False) -> int:
    return len(org_names(joined))


class Command(BaseCommand):
    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--joined", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        org_names(options["joined"])


urlpatterns = [
    path("insights/names/", names),
    path("insights/async-names/", async_names),
    path("insights/streamed-names/", streamed_names),
    path("insights/hostile/", hostile),
]
