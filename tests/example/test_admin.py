"""tasks.admin: every model is registered and its admin pages render."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client

from tasks.models import Membership, Org, Task

pytestmark = pytest.mark.django_db


def test_models_are_registered() -> None:
    """Org, Membership and Task all have an admin."""
    assert {Org, Membership, Task} <= set(admin.site._registry)


@pytest.mark.parametrize("model", ["org", "membership", "task"])
def test_admin_pages_render(client: Client, admin_user: Any, task: Task, model: str) -> None:
    """The changelist and the change form of each model render for a superuser."""
    client.force_login(admin_user)
    assert client.get(f"/admin/tasks/{model}/").status_code == 200
    obj = {"org": task.org, "membership": Membership.objects.first(), "task": task}[model]
    assert obj is not None
    assert client.get(f"/admin/tasks/{model}/{obj.pk}/change/").status_code == 200


def test_admin_routes_read_as_templates(client: Client, admin_user: Any, logs: pytest.LogCaptureFixture) -> None:
    """The admin's app index (a re_path regex in Django) is logged as /admin/<app_label>/, like every route."""
    from tests.example.logs import ACCESS_LOGGER, records_of

    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/tasks/").status_code == 200
    routes = [record.route for record in records_of(logs.records, ACCESS_LOGGER)]  # type: ignore[attr-defined]
    assert routes == ["/admin/", "/admin/<app_label>/"]
