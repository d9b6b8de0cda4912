"""The home page (what there is to try) and the staff-only "raise an error" button."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tasks.models import Membership, Task

# How many tasks to scan for one the user may not edit (the 403 example).
FORBIDDEN_SCAN_LIMIT = 200
# How many tasks the N+1 page lists.
RECENT_TASKS = 20


class DeliberateError(RuntimeError):
    """Raised on purpose by the "raise an error" button, to show a real 500 and its request id."""


@dataclass(frozen=True)
class OrgLinks:
    name: str
    role: str
    tasks_url: str
    export_url: str


def _org_links(user: Any) -> list[OrgLinks]:
    memberships = Membership.objects.filter(user=user).select_related("org").order_by("org__name")
    return [
        OrgLinks(
            name=m.org.name,
            role=m.get_role_display(),
            tasks_url=reverse("tasks:task-list", kwargs={"slug": m.org.slug}),
            export_url=reverse("tasks:task-export", kwargs={"slug": m.org.slug}),
        )
        for m in memberships
    ]


def _forbidden_edit_url(user: Any) -> str | None:
    """The edit page of a task in one of the user's orgs that the user may not edit (a 403), if any."""
    memberships = {m.org_id: m for m in Membership.objects.filter(user=user, role=Membership.Role.MEMBER)}
    if not memberships:
        return None
    candidates = Task.objects.filter(org_id__in=memberships).select_related("org").order_by("pk")
    for task in candidates[:FORBIDDEN_SCAN_LIMIT]:
        if not task.editable_by(user, memberships[task.org_id]):
            return reverse("tasks:task-edit", kwargs={"slug": task.org.slug, "pk": task.pk})
    return None


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {"orgs": [], "forbidden_url": None}
    if user.is_authenticated:
        context["orgs"] = _org_links(user)
        context["forbidden_url"] = _forbidden_edit_url(user)
    return render(request, "pages/home.html", context)


@require_POST
def raise_error(request: HttpRequest) -> HttpResponse:
    """A real unhandled exception: the 500 page, the error log record and the metrics all show it.

    POST only (a link prefetcher or crawler cannot trigger it) and staff only.
    """
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may raise a deliberate error.")
    raise DeliberateError("Deliberate error from the home page's button: this is what a 500 looks like.")


@require_GET
@login_required
def recent_tasks(request: HttpRequest) -> HttpResponse:
    """An N+1 on purpose: each task's org is read without ``select_related``, one query per task,
    so lantern.db logs one WARNING with the count and this line (the task list joins instead)."""
    tasks = Task.objects.filter(org__memberships__user=request.user).order_by("-created_at", "-id")
    rows = [(task.title, task.org.name) for task in tasks[:RECENT_TASKS]]
    return render(request, "pages/recent_tasks.html", {"rows": rows})
