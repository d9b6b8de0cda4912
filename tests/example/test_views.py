"""tasks.views: login, membership, list filters, create, edit and the CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tasks.models import Membership, Org, Task

pytestmark = pytest.mark.django_db


def _list_url(org: Org) -> str:
    return reverse("tasks:task-list", kwargs={"slug": org.slug})


def _edit_url(task: Task) -> str:
    return reverse("tasks:task-edit", kwargs={"slug": task.org.slug, "pk": task.pk})


@pytest.mark.parametrize(
    "path",
    ["/orgs/", "/orgs/acme/tasks/", "/orgs/acme/tasks/new/", "/orgs/acme/tasks/1/edit/", "/orgs/acme/tasks/export.csv"],
)
def test_views_require_login(client: Client, path: str) -> None:
    """Anonymous users are redirected to the login page with ?next= set."""
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/login/?next={path}"


def test_url_names(org: Org, task: Task) -> None:
    """The URL names under the "tasks" namespace resolve to the documented paths."""
    assert reverse("tasks:org-list") == "/orgs/"
    assert reverse("tasks:task-list", kwargs={"slug": "acme"}) == "/orgs/acme/tasks/"
    assert reverse("tasks:task-create", kwargs={"slug": "acme"}) == "/orgs/acme/tasks/new/"
    assert reverse("tasks:task-edit", kwargs={"slug": "acme", "pk": 7}) == "/orgs/acme/tasks/7/edit/"
    assert reverse("tasks:task-export", kwargs={"slug": "acme"}) == "/orgs/acme/tasks/export.csv"


def test_login_page_renders_and_logs_in(client: Client, owner: Any) -> None:
    """The login form renders, and a correct password lands on the org list."""
    assert b'name="password"' in client.get("/accounts/login/").content
    response = client.post("/accounts/login/", {"username": "olivia", "password": "owner-password"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/orgs/"


def test_logout_is_a_post(client: Client, owner: Any) -> None:
    """Logging out with POST ends the session and goes back to the login page."""
    client.force_login(owner)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/"
    assert client.get("/orgs/").status_code == 302


def test_org_list_shows_only_the_users_orgs(client: Client, org: Org, member: Any) -> None:
    """The org list names the orgs the user belongs to and no others."""
    Org.objects.create(name="Hidden Corp", slug="hidden")
    client.force_login(member)
    response = client.get("/orgs/")
    assert response.status_code == 200
    assert b"Acme" in response.content
    assert b"Hidden Corp" not in response.content


@pytest.mark.parametrize("suffix", ["", "new/", "export.csv"])
def test_non_member_gets_404(client: Client, org: Org, outsider: Any, suffix: str) -> None:
    """Someone outside the org gets 404, so an org's existence is not revealed."""
    client.force_login(outsider)
    assert client.get(f"/orgs/{org.slug}/tasks/{suffix}").status_code == 404


def test_non_member_gets_404_on_edit(client: Client, outsider: Any, task: Task) -> None:
    """The edit view is 404 for a non-member, not 403."""
    client.force_login(outsider)
    assert client.get(_edit_url(task)).status_code == 404


def test_task_of_another_org_is_404(client: Client, org: Org, owner: Any, member: Any) -> None:
    """A task id from another org cannot be reached through this org's URL."""
    other = Org.objects.create(name="Other", slug="other")
    foreign = Task.objects.create(org=other, title="Foreign", created_by=member)
    client.force_login(owner)
    assert client.get(f"/orgs/{org.slug}/tasks/{foreign.pk}/edit/").status_code == 404


def test_task_list_shows_the_orgs_tasks(client: Client, org: Org, member: Any, tasks: list[Task]) -> None:
    """The list shows every task of the org."""
    client.force_login(member)
    response = client.get(_list_url(org))
    assert response.status_code == 200
    assert [t.title for t in response.context["page"]] == [t.title for t in reversed(tasks)]


@pytest.mark.parametrize(
    ("params", "titles"),
    [
        ({"status": "doing"}, {"Deploy to staging"}),
        ({"q": "deploy"}, {"Deploy to staging", "Deploy to production"}),
        ({"q": "after staging"}, {"Deploy to production"}),
        ({"status": "todo", "q": "deploy"}, {"Deploy to production"}),
        ({"status": "bogus"}, {"Write docs", "Deploy to staging", "Deploy to production", "Retro"}),
    ],
)
def test_task_list_filters(
    client: Client, org: Org, member: Any, tasks: list[Task], params: dict[str, str], titles: set[str]
) -> None:
    """status and q (title or description, case-insensitive) narrow the list; an unknown status is ignored."""
    client.force_login(member)
    response = client.get(_list_url(org), params)
    assert {t.title for t in response.context["page"]} == titles


def test_create_task(client: Client, org: Org, member: Any) -> None:
    """A member creates a task in the org; they are recorded as its creator."""
    client.force_login(member)
    response = client.post(
        reverse("tasks:task-create", kwargs={"slug": org.slug}),
        {"title": "New thing", "description": "", "status": "todo", "assignee": member.pk},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == _list_url(org)
    task = Task.objects.get(title="New thing")
    assert (task.org, task.created_by, task.assignee) == (org, member, member)


def test_create_form_renders(client: Client, org: Org, member: Any) -> None:
    """GET shows an empty form."""
    client.force_login(member)
    response = client.get(reverse("tasks:task-create", kwargs={"slug": org.slug}))
    assert response.status_code == 200
    assert b'name="title"' in response.content


def test_cannot_assign_a_non_member(client: Client, org: Org, member: Any, outsider: Any) -> None:
    """Assigning someone outside the org is a form error and creates nothing."""
    client.force_login(member)
    response = client.post(
        reverse("tasks:task-create", kwargs={"slug": org.slug}),
        {"title": "Sneaky", "status": "todo", "assignee": outsider.pk},
    )
    assert response.status_code == 200
    assert "assignee" in response.context["form"].errors
    assert not Task.objects.filter(title="Sneaky").exists()


@pytest.mark.parametrize("who", ["creator", "assignee", "owner"])
def test_allowed_users_can_edit(
    client: Client, org: Org, owner: Any, member: Any, django_user_model: Any, who: str
) -> None:
    """The creator, the assignee and an org owner may edit a task."""
    creator = django_user_model.objects.create_user(username="carol")
    Membership.objects.create(user=creator, org=org)
    task = Task.objects.create(org=org, title="Old", created_by=creator, assignee=member)
    client.force_login({"creator": creator, "assignee": member, "owner": owner}[who])
    assert client.get(_edit_url(task)).status_code == 200
    response = client.post(_edit_url(task), {"title": "New", "status": "done", "assignee": member.pk})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.status) == ("New", Task.Status.DONE)


def test_edit_with_invalid_data_shows_errors(client: Client, owner: Any, task: Task) -> None:
    """An empty title re-renders the form with an error and saves nothing."""
    client.force_login(owner)
    response = client.post(_edit_url(task), {"title": "", "status": "todo"})
    assert response.status_code == 200
    assert "title" in response.context["form"].errors
    task.refresh_from_db()
    assert task.title == "Ship the release"


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def test_export_csv_content(client: Client, org: Org, member: Any, tasks: list[Task]) -> None:
    """The export is a CSV attachment with a header row and one row per matching task."""
    client.force_login(member)
    response = client.get(reverse("tasks:task-export", kwargs={"slug": org.slug}), {"q": "deploy"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="acme-tasks.csv"'
    rows = _csv_rows(response.content)
    assert list(rows[0]) == [
        "id",
        "title",
        "description",
        "status",
        "assignee",
        "created_by",
        "created_at",
        "updated_at",
    ]
    assert {(r["title"], r["status"], r["assignee"]) for r in rows} == {
        ("Deploy to staging", "doing", "max"),
        ("Deploy to production", "todo", "max"),
    }


def test_export_only_contains_the_orgs_tasks(client: Client, org: Org, owner: Any, tasks: list[Task]) -> None:
    """Tasks of other orgs never appear in an org's export."""
    other = Org.objects.create(name="Other", slug="other")
    Task.objects.create(org=other, title="Other org's secret", created_by=owner)
    client.force_login(owner)
    rows = _csv_rows(client.get(reverse("tasks:task-export", kwargs={"slug": org.slug})).content)
    assert len(rows) == len(tasks)
    assert "Other org's secret" not in {r["title"] for r in rows}


def test_export_defuses_spreadsheet_formulas(client: Client, org: Org, owner: Any) -> None:
    """A title that a spreadsheet would run as a formula is exported as text."""
    Task.objects.create(org=org, title='=HYPERLINK("http://evil.example","x")', created_by=owner)
    client.force_login(owner)
    (row,) = _csv_rows(client.get(reverse("tasks:task-export", kwargs={"slug": org.slug})).content)
    assert row["title"] == '\'=HYPERLINK("http://evil.example","x")'


def test_views_refuse_unexpected_methods(client: Client, org: Org, owner: Any) -> None:
    """Read-only views answer 405 to POST."""
    client.force_login(owner)
    assert client.post(reverse("tasks:task-export", kwargs={"slug": org.slug})).status_code == 405
    assert client.post(_list_url(org)).status_code == 405
