"""A large org's CSV export runs as a background job; the page says where to fetch it."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from django_lantern.jobs import _djtasks as djtasks
from tasks.models import Export, Org, Task

pytestmark = pytest.mark.django_db

FRAMEWORK = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"default": {"BACKEND": f"{FRAMEWORK}.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def django_tasks_jobs(settings: Any) -> None:
    """These tests run the django.tasks side, REDIS_URL or not (Celery's is in the server test)."""
    settings.EXAMPLE_JOBS = "django.tasks"


@pytest.fixture
def small_limit(settings: Any) -> None:
    """More than one matching task makes a large org."""
    settings.EXPORT_INLINE_MAX_ROWS = 1


def export_url(org: Org) -> str:
    return f"/orgs/{org.slug}/tasks/export.csv"


@pytest.mark.usefixtures("small_limit")
def test_a_large_export_is_queued_with_the_request_id(client: Client, org: Org, owner: Any, tasks: list[Task]) -> None:
    """202 and a page that says queued and links the download; the job row carries the request id."""
    from django_tasks_db.models import DBTaskResult

    client.force_login(owner)
    response = client.get(export_url(org), HTTP_X_REQUEST_ID="export-req-1")
    assert response.status_code == 202
    export = Export.objects.get()
    assert (export.state, export.request_id, export.requested_by) == ("queued", "export-req-1", owner)
    page = response.content.decode()
    assert "Queued" in page
    download = f"/orgs/{org.slug}/exports/{export.pk}/download.csv"
    assert f'href="{download}"' in page
    assert response["Refresh"] == f"2; url=/orgs/{org.slug}/exports/{export.pk}/"
    (job,) = DBTaskResult.objects.all()
    assert job.task_path == "tasks.jobs.export_tasks"
    assert job.args_kwargs["args"] == [str(export.pk)]
    assert job.args_kwargs[djtasks.CARRIER_KEY] == {"request_id": "export-req-1"}


@pytest.mark.usefixtures("small_limit")
def test_asking_again_reuses_the_pending_export(client: Client, org: Org, owner: Any, tasks: list[Task]) -> None:
    """A reload does not enqueue a second job for the same filters."""
    from django_tasks_db.models import DBTaskResult

    client.force_login(owner)
    client.get(export_url(org))
    client.get(export_url(org))
    assert Export.objects.count() == 1
    assert DBTaskResult.objects.count() == 1
    client.get(export_url(org), {"status": "todo"})
    assert Export.objects.count() == 2


def test_a_small_export_is_still_inline(client: Client, org: Org, owner: Any, tasks: list[Task]) -> None:
    """Under the limit nothing is queued: the CSV comes back at once."""
    client.force_login(owner)
    response = client.get(export_url(org))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert not Export.objects.exists()


@pytest.mark.usefixtures("small_limit")
def test_the_job_writes_the_csv_and_the_download_serves_it(
    client: Client, settings: Any, org: Org, owner: Any, tasks: list[Task]
) -> None:
    """Run by a backend (here the immediate one), the job fills the export; the
    status page says done and the download is the same CSV the inline export gives."""
    settings.TASKS = IMMEDIATE
    client.force_login(owner)
    client.get(export_url(org), {"status": "todo"})
    export = Export.objects.get()
    assert (export.state, export.row_count) == ("done", Task.objects.filter(org=org, status="todo").count())
    status = client.get(f"/orgs/{org.slug}/exports/{export.pk}/")
    assert "Done" in status.content.decode()
    assert "Refresh" not in status
    download = client.get(f"/orgs/{org.slug}/exports/{export.pk}/download.csv")
    assert download.status_code == 200
    settings.EXPORT_INLINE_MAX_ROWS = 1000
    assert download.content == client.get(export_url(org), {"status": "todo"}).content


@pytest.mark.usefixtures("small_limit")
def test_a_pending_download_goes_to_the_status_page(client: Client, org: Org, owner: Any, tasks: list[Task]) -> None:
    """Asking for the file before the job is done leads back to the status page."""
    client.force_login(owner)
    client.get(export_url(org))
    export = Export.objects.get()
    response = client.get(f"/orgs/{org.slug}/exports/{export.pk}/download.csv")
    assert response.status_code == 302
    assert response["Location"] == f"/orgs/{org.slug}/exports/{export.pk}/"


@pytest.mark.usefixtures("small_limit")
def test_only_the_requester_sees_an_export(
    client: Client, org: Org, owner: Any, member: Any, outsider: Any, tasks: list[Task]
) -> None:
    """Another member of the org and an outsider both get 404 for someone else's export."""
    client.force_login(owner)
    client.get(export_url(org))
    export = Export.objects.get()
    for other in (member, outsider):
        client.force_login(other)
        for suffix in ("", "download.csv"):
            assert client.get(f"/orgs/{org.slug}/exports/{export.pk}/{suffix}").status_code == 404


def test_seed_large_org_is_idempotent(django_user_model: Any) -> None:
    """The large demo org is topped up to --tasks, and a second run creates nothing."""
    django_user_model.objects.create_user(username="demo", password="x")
    call_command("seed_large_org", "--tasks", "30", stdout=None)
    call_command("seed_large_org", "--tasks", "30", stdout=None)
    org = Org.objects.get(slug="initech")
    assert Task.objects.filter(org=org).count() == 30
    assert org.memberships.get().user.username == "demo"


@pytest.mark.usefixtures("small_limit")
@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_the_status_page_says_the_time_zone_of_its_time(
    client: Client, org: Org, owner: Any, tasks: list[Task], settings: Any, zone: str
) -> None:
    """The request time is shown in TIME_ZONE, named, with the exact instant in <time datetime>."""
    import datetime as dt
    import re
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = zone
    client.force_login(owner)
    page = client.get(export_url(org)).content.decode()
    created = Export.objects.get().created_at
    match = re.search(r'Requested <time datetime="([^"]+)">([^<]+)</time>', page)
    assert match, page
    assert dt.datetime.fromisoformat(match.group(1)) == created
    local = created.astimezone(ZoneInfo(zone))
    assert match.group(2) == f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"  # UTC, CET or CEST
