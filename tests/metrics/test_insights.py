"""Query insights (metrics/_insights.py): one N+1 WARNING per repeated statement with its final
count and the user's callsite, for a request (sync, async, streaming), a management command, a
django.tasks run and a Celery run; slow queries; the bounds; the "raise" mode."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.client import AsyncClient

from django_lantern import bind
from django_lantern.metrics import _callsite
from django_lantern.metrics import _insights as insights
from tasks.models import Org, Task
from tests import urls_insights
from tests.conftest import LogCapture
from tests.metrics.conftest import value

pytestmark = [pytest.mark.urls("tests.urls_insights"), pytest.mark.django_db]

FRAMEWORK = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"default": {"BACKEND": f"{FRAMEWORK}.backends.immediate.ImmediateBackend"}}
LOOP_LINE = next(
    n for n, line in enumerate(inspect.getsource(urls_insights).splitlines(), 1) if "N_PLUS_ONE_LINE" in line
)
CALLSITE = f"tests/urls_insights.py:{LOOP_LINE}"
ORG_QUERY = (
    'SELECT "tasks_org"."id", "tasks_org"."name", "tasks_org"."slug" FROM "tasks_org" '
    'WHERE "tasks_org"."id" = %s LIMIT ?'
)


@pytest.fixture(autouse=True)
def ten_tasks() -> Iterator[None]:
    """Ten tasks, each in an org of its own; every test starts a new repeat interval."""
    user = get_user_model().objects.create_user("ada")
    for i in range(10):
        org = Org.objects.create(name=f"Org {i}", slug=f"org-{i}")
        Task.objects.create(org=org, title=f"task {i}", created_by=user)
    insights.reset()
    yield
    insights.reset()


def warnings_of(logs: LogCapture, kind: str = insights.N_PLUS_ONE) -> list[dict[str, Any]]:
    return [line for line in logs.by_logger("lantern.db") if line.get("insight") == kind]


def assert_one_n_plus_one(logs: LogCapture, route: str | None) -> dict[str, Any]:
    (line,) = warnings_of(logs)
    assert line["level"] == "warning"
    assert line["count"] == 10
    assert line["callsite"] == CALLSITE
    assert line["fingerprint"] == ORG_QUERY
    assert line["message"] == f"n_plus_one count=10 callsite={json.dumps(CALLSITE)} fingerprint={json.dumps(ORG_QUERY)}"
    if route is not None:
        assert line["route"] == route
    assert line["request_id"] not in ("", "-")
    return line


@pytest.mark.parametrize("path", ["/insights/names/", "/insights/async-names/", "/insights/streamed-names/"])
def test_a_request_that_reads_each_org_logs_one_warning(logs: LogCapture, path: str) -> None:
    """Sync, async (sync_to_async in the view) and streaming: count 10, the loop's line, the route."""
    response = Client().get(path)
    if response.streaming:
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert response.status_code == 200
    line = assert_one_n_plus_one(logs, path)
    (access,) = logs.by_logger("access")
    assert access["request_id"] == line["request_id"]
    assert value("lantern_db_n_plus_one_total", {"route": path}) == 1


def test_an_async_request_logs_one_warning(logs: LogCapture) -> None:
    """Under ASGI (Django's async handler), the scope follows the request into the view's thread
    (run from this thread, so the view's thread-sensitive hop sees the test's rows)."""
    response = async_to_sync(AsyncClient().get)("/insights/async-names/")
    assert response.status_code == 200
    assert_one_n_plus_one(logs, "/insights/async-names/")


@pytest.mark.parametrize("path", ["/insights/names/?joined", "/insights/async-names/?joined"])
def test_the_joined_version_logs_none(logs: LogCapture, path: str) -> None:
    assert Client().get(path).status_code == 200
    assert warnings_of(logs) == []


def test_under_the_threshold_logs_none(logs: LogCapture) -> None:
    Task.objects.filter(pk__in=Task.objects.order_by("pk").values("pk")[:4]).exists()
    Task.objects.exclude(pk__in=Task.objects.order_by("pk").values("pk")[:4]).delete()
    assert Client().get("/insights/names/").status_code == 200
    assert warnings_of(logs) == []
    with override_settings(LANTERN={"N_PLUS_ONE_THRESHOLD": 4}):
        assert Client().get("/insights/names/").status_code == 200
    assert [line["count"] for line in warnings_of(logs)] == [4]


def test_once_per_route_and_statement_per_interval_counted_every_time(logs: LogCapture) -> None:
    for _ in range(3):
        Client().get("/insights/names/")
    assert len(warnings_of(logs)) == 1
    assert value("lantern_db_n_plus_one_total", {"route": "/insights/names/"}) == 3
    Client().get("/insights/async-names/")  # another route: its own WARNING
    assert len(warnings_of(logs)) == 2


def test_off(logs: LogCapture) -> None:
    with override_settings(LANTERN={"N_PLUS_ONE": None, "SLOW_QUERY_MS": None}):
        Client().get("/insights/names/")
    assert logs.by_logger("lantern.db") == []


def test_raise_mode_fails_the_request_with_the_same_message(logs: LogCapture) -> None:
    with override_settings(LANTERN={"N_PLUS_ONE": "raise"}), pytest.raises(insights.NPlusOneError) as raised:
        Client().get("/insights/names/")
    line = assert_one_n_plus_one(logs, "/insights/names/")
    assert str(raised.value) == line["message"]
    (access,) = logs.by_logger("access")
    assert access["status"] == 500


def test_raise_mode_leaves_the_joined_version_alone(logs: LogCapture) -> None:
    with override_settings(LANTERN={"N_PLUS_ONE": "raise"}):
        assert Client().get("/insights/names/?joined").status_code == 200


def test_a_management_command(logs: LogCapture) -> None:
    call_command(urls_insights.Command())
    line = assert_one_n_plus_one(logs, None)
    assert line["command"] == "urls_insights"
    assert value("lantern_db_n_plus_one_total", {"route": "urls_insights"}) == 1
    call_command(urls_insights.Command(), joined=True)
    assert len(warnings_of(logs)) == 1
    with override_settings(LANTERN={"N_PLUS_ONE": "raise"}), pytest.raises(insights.NPlusOneError):
        insights.reset()
        call_command(urls_insights.Command())


@override_settings(TASKS=IMMEDIATE)
def test_a_django_tasks_run(logs: LogCapture) -> None:
    urls_insights.org_names_task.enqueue()
    line = assert_one_n_plus_one(logs, None)
    assert line["task_name"] == "tests.urls_insights.org_names_task"
    urls_insights.org_names_task.enqueue(joined=True)
    assert len(warnings_of(logs)) == 1


def test_a_celery_run(logs: LogCapture) -> None:
    from celery import Celery

    from django_lantern import celery as lantern_celery

    app = lantern_celery.instrument(Celery("insights"))
    app.conf.task_always_eager = True

    @app.task(name="insights.org_names")
    def org_names_run(joined: bool = False) -> int:
        return len(urls_insights.org_names(joined))

    org_names_run.apply()
    line = assert_one_n_plus_one(logs, None)
    assert line["task_name"] == "insights.org_names"
    assert value("lantern_db_n_plus_one_total", {"route": "insights.org_names"}) == 1
    org_names_run.apply(kwargs={"joined": True})
    assert len(warnings_of(logs)) == 1


def test_a_slow_query(logs: LogCapture) -> None:
    with override_settings(LANTERN={"SLOW_QUERY_MS": 0}):
        Client().get("/insights/names/?joined")
        assert value("lantern_db_slow_queries_total", {"route": "/insights/names/"}) >= 1
    (line,) = warnings_of(logs, insights.SLOW_QUERY)
    assert line["sql"].startswith('SELECT "tasks_task"."id"')
    assert line["callsite"] == CALLSITE
    assert line["db_ms"] >= 0 and line["route"] == "/insights/names/"


def test_memory_per_scope_is_bounded() -> None:
    scope = insights.begin()
    assert scope is not None
    try:
        with bind(job="bounded"), connection.cursor() as cursor:  # a run's scope counts in its context
            for i in range(insights.MAX_FINGERPRINTS + 44):
                cursor.execute(f"SELECT 1 AS c{i}")
        assert len(scope.counts) == insights.MAX_FINGERPRINTS
        assert scope.overflow == 44
    finally:
        insights.end(scope, emit=False)


def test_a_probe_counts_nothing(logs: LogCapture) -> None:
    with override_settings(LANTERN={"N_PLUS_ONE_THRESHOLD": 2}):
        for _ in range(3):
            Client().get("/readyz")
    assert logs.by_logger("lantern.db") == []


def test_the_callsite_skips_libraries() -> None:
    assert insights.callsite().startswith("tests/metrics/test_insights.py:")
    assert _callsite._shown(inspect.getfile(Client)) == ""
    assert _callsite._shown(inspect.getfile(inspect)) == ""
    assert _callsite._shown(inspect.getfile(pytest)) == ""
    assert _callsite._shown(insights.__file__) == ""


def test_a_run_scope_counts_nothing_outside_any_context() -> None:
    scope = insights.begin()
    assert scope is not None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        with bind(job="counted"), connection.cursor() as cursor:
            cursor.execute("SELECT 2")
        assert scope.counts == {"SELECT ?": 1}
    finally:
        insights.end(scope, emit=False)
