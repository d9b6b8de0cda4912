"""pages: the home page's links, the staff-only error button, the error pages with their request id, messages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tasks.models import Org, Task

pytestmark = pytest.mark.django_db

HREF = re.compile(r'href="([^"]+)"')


def _hrefs(response: Any) -> set[str]:
    return {href.replace("&amp;", "&") for href in HREF.findall(response.content.decode())}


def _quoted_id(response: Any) -> str:
    match = re.search(r'class="request-id">[^<]*<code>([^<]+)</code>', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


def test_home_for_an_anonymous_visitor_links_login_and_operations(client: Client) -> None:
    """Anonymous: a log-in link with the demo account, the probes, metrics and the admin; no error button."""
    response = client.get("/")
    assert response.status_code == 200
    hrefs = _hrefs(response)
    assert {"/healthz", "/readyz", "/metrics", "/metrics?format=json", "/admin/", "/this-page-does-not-exist/"} <= hrefs
    assert "/accounts/login/?next=/" in hrefs
    assert b"demo-password" in response.content
    assert b"raise-error" not in response.content


def test_home_for_a_member_links_their_orgs_exports_and_a_403(
    client: Client, org: Org, member: Any, owner: Any, task: Task
) -> None:
    """A member sees each org's tasks and CSV export, and a task they may not edit (the 403 example)."""
    client.force_login(member)
    hrefs = _hrefs(client.get("/"))
    assert {"/orgs/", "/orgs/acme/tasks/", "/orgs/acme/tasks/export.csv"} <= hrefs
    forbidden = reverse("tasks:task-edit", kwargs={"slug": "acme", "pk": task.pk})
    assert forbidden in hrefs
    response = client.get(forbidden)
    assert response.status_code == 403
    assert _quoted_id(response) == response.headers["X-Request-Id"]
    assert b"site.css" in response.content  # the error page is styled like the rest


def test_home_for_an_owner_has_no_403_link(client: Client, org: Org, owner: Any, task: Task) -> None:
    """An org owner may edit every task of the org: no forbidden link is offered."""
    client.force_login(owner)
    assert not any(href.endswith("/edit/") for href in _hrefs(client.get("/")))


def test_404_page_quotes_its_request_id(client: Client) -> None:
    """The 404 page (DEBUG off) shows the id that the response header carries."""
    response = client.get("/this-page-does-not-exist/")
    assert response.status_code == 404
    assert _quoted_id(response) == response.headers["X-Request-Id"]


def test_raise_error_button_only_for_staff(client: Client, member: Any, admin_user: Any) -> None:
    """The button is on the home page for staff only."""
    client.force_login(member)
    assert b'action="/raise-error/"' not in client.get("/").content
    client.force_login(admin_user)
    assert b'action="/raise-error/"' in client.get("/").content


def test_raise_error_is_a_real_500_with_the_request_id(admin_user: Any) -> None:
    """Staff POST: an unhandled exception, the 500 page quoting the response's request id."""
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.post("/raise-error/")
    assert response.status_code == 500
    assert _quoted_id(response) == response.headers["X-Request-Id"]
    assert b"Something went wrong" in response.content


def test_raise_error_refuses_non_staff_and_get(client: Client, member: Any) -> None:
    """A non-staff POST is a 403; a GET (a prefetcher, a crawler) is a 405."""
    client.force_login(member)
    assert client.post("/raise-error/").status_code == 403
    assert client.get("/raise-error/").status_code == 405


def test_success_messages_after_create_and_edit(client: Client, org: Org, owner: Any) -> None:
    """Creating and then editing a task each show a success message on the list."""
    client.force_login(owner)
    response = client.post(
        reverse("tasks:task-create", kwargs={"slug": org.slug}), {"title": "Ship it", "status": "todo"}, follow=True
    )
    assert "Task “Ship it” created." in response.content.decode()
    task = Task.objects.get(title="Ship it")
    response = client.post(
        reverse("tasks:task-edit", kwargs={"slug": org.slug, "pk": task.pk}),
        {"title": "Ship it now", "status": "doing"},
        follow=True,
    )
    body = response.content.decode()
    assert "Task “Ship it now” saved." in body
    assert "created." not in body  # a message shows once


def test_logout_form_sits_in_the_header(client: Client, owner: Any) -> None:
    """The header's log-out control is an inline POST form next to the user name."""
    client.force_login(owner)
    body = client.get("/").content.decode()
    header = body.split("<header", 1)[1].split("</header>", 1)[0]
    assert re.search(r'<span>olivia</span>\s*<form method="post" action="/accounts/logout/" class="inline">', header)


def test_csrf_failure_page_quotes_its_request_id() -> None:
    """A form posted without its CSRF token gets the example's page, with the request id, not Django's bare one."""
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert _quoted_id(response) == response.headers["X-Request-Id"]


def test_the_login_page_gives_the_demo_accounts_passwords(client: Client) -> None:
    """A newcomer at the log-in form reads what to type, password included."""
    page = client.get(reverse("login")).content.decode()
    assert "<code>demo</code> / <code>demo-password</code>" in page
    assert "<code>admin</code> / <code>admin-password</code>" in page
