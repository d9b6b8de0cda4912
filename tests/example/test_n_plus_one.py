"""The example's N+1 page logs one lantern.db WARNING; the task list, which joins, logs none."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from django.test import Client

from django_lantern.metrics import _insights as insights
from pages import views
from tasks.models import Org, Task

pytestmark = pytest.mark.django_db


def n_plus_one_lines(logs: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in logs.records if r.name == "lantern.db" and getattr(r, "insight", None) == "n_plus_one"]


@pytest.fixture(autouse=True)
def new_interval() -> None:
    insights.reset()


@pytest.fixture
def ten_tasks(client: Client, org: Org, owner: Any, tasks: list[Task]) -> int:
    """Ten tasks in the owner's org (over the threshold), the owner logged in."""
    for i in range(10 - len(tasks)):
        Task.objects.create(org=org, title=f"more {i}", created_by=owner)
    client.force_login(owner)
    return 10


def test_the_recent_tasks_page_logs_one_n_plus_one(
    client: Client, logs: pytest.LogCaptureFixture, ten_tasks: int
) -> None:
    home = client.get("/")
    assert b'href="/recent-tasks/"' in home.content
    page = client.get("/recent-tasks/")
    assert page.status_code == 200 and b"Deploy to staging" in page.content
    (record,) = n_plus_one_lines(logs)
    source, first = inspect.getsourcelines(views.recent_tasks)
    line = first + next(i for i, text in enumerate(source) if "task.org.name" in text)
    assert record.count == ten_tasks
    assert record.callsite == f"pages/views.py:{line}"
    assert record.route == "/recent-tasks/"


def test_the_task_list_does_not_n_plus_one(
    client: Client, logs: pytest.LogCaptureFixture, org: Org, ten_tasks: int
) -> None:
    assert client.get(f"/orgs/{org.slug}/tasks/").status_code == 200
    assert n_plus_one_lines(logs) == []
