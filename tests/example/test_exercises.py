"""The chapter's exercises (21.14), each through the example project."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tasks.models import Org, Task
from tests.example.logs import ACCESS_LOGGER, records_of, rendered

pytestmark = pytest.mark.django_db

SECRET = "abc123secret"


def _export_url(org: Org) -> str:
    return f"/orgs/{org.slug}/tasks/export.csv"


# -- 1. the export log line ------------------------------------------------------


def test_export_logs_org_user_and_filters(
    client: Client, logs: pytest.LogCaptureFixture, org: Org, owner: Any, tasks: list[Task]
) -> None:
    """One INFO line on tasks.views names the org, the user and the whitelisted filters."""
    client.force_login(owner)
    response = client.get(_export_url(org), {"status": "todo", "q": "docs"})
    assert response.status_code == 200
    (record,) = records_of(logs.records, "tasks.views")
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "org=acme" in message
    assert f"user_id={owner.pk}" in message
    assert "status=todo" in message
    assert "q='docs'" in message
    assert "count=1" in message
    assert record.org_slug == "acme"  # type: ignore[attr-defined]
    assert record.filter_status == "todo"  # type: ignore[attr-defined]
    assert record.filter_q == "docs"  # type: ignore[attr-defined]
    assert record.exported_count == 1  # type: ignore[attr-defined]
    assert record.user_id == owner.pk  # type: ignore[attr-defined]


def test_export_log_leaks_no_secret_param_or_session_cookie(
    client: Client, logs: pytest.LogCaptureFixture, org: Org, owner: Any, tasks: list[Task]
) -> None:
    """A token in the query string and the session cookie appear in no captured record."""
    client.force_login(owner)
    session_value = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.get(
        _export_url(org),
        {"status": "doing", "q": "deploy", "token": SECRET},
        headers={"Authorization": f"Bearer {SECRET}-header"},
    )
    assert response.status_code == 200
    assert len(records_of(logs.records, "tasks.views")) == 1
    assert len(records_of(logs.records, ACCESS_LOGGER)) == 1
    for record in logs.records:
        text = rendered(record)
        assert SECRET not in text
        assert session_value not in text
        assert "token" not in text


def test_export_logs_only_known_statuses_and_bounded_query(
    client: Client, logs: pytest.LogCaptureFixture, org: Org, owner: Any
) -> None:
    """An unknown status is dropped and a long q is cut to 100 characters before logging."""
    client.force_login(owner)
    client.get(_export_url(org), {"status": "<script>", "q": "x" * 5000})
    (record,) = records_of(logs.records, "tasks.views")
    assert record.filter_status == ""  # type: ignore[attr-defined]
    assert record.filter_q == "x" * 100  # type: ignore[attr-defined]
    assert "<script>" not in record.getMessage()
    assert "x" * 101 not in record.getMessage()


# -- 2. the PermissionDenied log line --------------------------------------------


def test_edit_denied_is_403_and_logs_user_and_task(
    client: Client, logs: pytest.LogCaptureFixture, org: Org, member: Any, task: Task
) -> None:
    """A member who neither created nor is assigned the task gets 403 and a WARNING names both ids."""
    client.force_login(member)
    response = client.get(f"/orgs/{org.slug}/tasks/{task.pk}/edit/")
    assert response.status_code == 403
    (record,) = [r for r in records_of(logs.records, "tasks.views") if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert f"user_id={member.pk}" in message
    assert f"task_id={task.pk}" in message
    assert record.task_id == task.pk  # type: ignore[attr-defined]
    assert record.request_id == response.headers["X-Request-Id"]  # type: ignore[attr-defined]


def test_denied_post_changes_nothing(client: Client, org: Org, member: Any, task: Task) -> None:
    """A denied POST leaves the task as it was."""
    client.force_login(member)
    response = client.post(f"/orgs/{org.slug}/tasks/{task.pk}/edit/", {"title": "hijacked", "status": "done"})
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.title == "Ship the release"
    assert task.status == Task.Status.TODO


# -- 3. /metrics as JSON ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/metrics?format=json", {}), ("/metrics/", {"Accept": "application/json"})],
)
def test_metrics_json_has_uptime_and_requests_total(client: Client, path: str, headers: dict[str, str]) -> None:
    """/metrics answers JSON with a non-negative uptime_seconds and an integer requests_total."""
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["uptime_seconds"], (int, float))
    assert body["uptime_seconds"] >= 0
    assert isinstance(body["requests_total"], int)


def test_metrics_requests_total_counts_requests(client: Client) -> None:
    """requests_total grows by at least the requests served in between."""
    before = client.get("/metrics?format=json").json()["requests_total"]
    for _ in range(3):
        client.get("/")
    after = client.get("/metrics?format=json").json()["requests_total"]
    # The first /metrics request is counted once it has finished, plus the three pages.
    assert after >= before + 4


def test_metrics_refuses_a_public_peer(client: Client) -> None:
    """Off the allowed networks and without the token, /metrics gives 403 and no numbers."""
    response = client.get("/metrics?format=json", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"requests_total" not in response.content


# -- 4. /healthz and /readyz: JSON and status codes --------------------------------


PROBES = [("/healthz", "ok"), ("/healthz/", "ok"), ("/readyz", "ready"), ("/readyz/", "ready")]


@pytest.mark.parametrize(("path", "status"), PROBES)
def test_probe_get_returns_json_200(client: Client, path: str, status: str) -> None:
    """GET gives 200, a JSON body with the expected status, no caching and no redirect."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == status
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(("path", "status"), PROBES)
def test_probe_head_returns_200_without_body(client: Client, path: str, status: str) -> None:
    """HEAD gives 200 and an empty body."""
    response = client.head(path)
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("method", ["post", "put", "delete"])
@pytest.mark.parametrize(("path", "status"), PROBES)
def test_probe_refuses_other_methods_with_405(client: Client, method: str, path: str, status: str) -> None:
    """POST, PUT and DELETE give 405 with an Allow header naming GET and HEAD."""
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_readyz_reports_each_check(client: Client) -> None:
    """The body keeps the chapter's keys and lists the database and cache checks."""
    body = client.get("/readyz").json()
    assert body["db"] == "ok"
    assert body["cache"] == "ok"
    assert body["checks"]["db:default"]["ok"] is True
    assert body["checks"]["cache:default"]["ok"] is True


def failing_check() -> None:
    """A readiness check that always fails, with a message that must not reach the body."""
    raise RuntimeError("connection to db.internal.example:5432 refused")


def test_readyz_is_503_when_a_check_fails(client: Client, settings: Any) -> None:
    """A failing check makes /readyz 503 "not_ready", with no internal detail, while /healthz stays 200."""
    settings.LANTERN = {**settings.LANTERN, "READINESS_CHECKS": [f"{__name__}.failing_check"]}
    response = client.get("/readyz/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["custom:failing_check"]["ok"] is False
    assert "db.internal.example" not in response.content.decode()
    assert client.get("/healthz/").status_code == 200
