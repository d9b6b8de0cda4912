"""Org and task views: list, create, edit, CSV export.

Every view looks the org up through the user's membership, so a non-member
gets 404 (not 403): whether an org exists is not revealed to outsiders.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tasks.forms import TaskForm
from tasks.models import Membership, Org, Task

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    class AuthenticatedRequest(HttpRequest):
        """What ``login_required`` guarantees: ``request.user`` is a real user."""

        user: User
else:
    AuthenticatedRequest = HttpRequest

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
# Free text from the client: bounded before it reaches a query or a log line.
QUERY_MAX_LENGTH = 100
# A cell starting with one of these is run as a formula by spreadsheet apps.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class TaskFilters:
    """The whitelisted filter params; nothing else from the query string is used or logged."""

    status: str
    q: str

    @classmethod
    def from_request(cls, request: HttpRequest) -> TaskFilters:
        status = request.GET.get("status", "")
        if status not in Task.Status.values:
            status = ""
        q = request.GET.get("q", "").strip()[:QUERY_MAX_LENGTH]
        return cls(status=status, q=q)

    def apply(self, tasks: QuerySet[Task]) -> QuerySet[Task]:
        if self.status:
            tasks = tasks.filter(status=self.status)
        if self.q:
            tasks = tasks.filter(Q(title__icontains=self.q) | Q(description__icontains=self.q))
        return tasks


def _membership(request: AuthenticatedRequest, slug: str) -> Membership:
    """The user's membership of org ``slug``, or 404 for non-members and unknown orgs alike."""
    return get_object_or_404(Membership.objects.select_related("org"), org__slug=slug, user=request.user)


def _org_tasks(org: Org) -> QuerySet[Task]:
    return Task.objects.filter(org=org).select_related("assignee", "created_by")


@login_required
@require_GET
def org_list(request: AuthenticatedRequest) -> HttpResponse:
    memberships = Membership.objects.filter(user=request.user).select_related("org").order_by("org__name")
    return render(request, "tasks/org_list.html", {"memberships": memberships})


@login_required
@require_GET
def task_list(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    membership = _membership(request, slug)
    filters = TaskFilters.from_request(request)
    page = Paginator(filters.apply(_org_tasks(membership.org)), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "org": membership.org,
        "membership": membership,
        "filters": filters,
        "statuses": Task.Status.choices,
        "page": page,
    }
    return render(request, "tasks/task_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def task_create(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    membership = _membership(request, slug)
    org = membership.org
    form = TaskForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        task = form.save(commit=False)
        task.org = org
        task.created_by = request.user
        task.save()
        logger.info(
            "task created org=%s task_id=%s", org.slug, task.pk, extra={"org_slug": org.slug, "task_id": task.pk}
        )
        messages.success(request, f"Task “{task.title}” created.")
        return redirect("tasks:task-list", slug=org.slug)
    return render(request, "tasks/task_form.html", {"org": org, "form": form, "task": None})


@login_required
@require_http_methods(["GET", "POST"])
def task_edit(request: AuthenticatedRequest, slug: str, pk: int) -> HttpResponse:
    membership = _membership(request, slug)
    org = membership.org
    task = get_object_or_404(Task, org=org, pk=pk)
    if not task.editable_by(request.user, membership):
        # A security-relevant event (21.2.1): who tried to edit what.
        logger.warning(
            "task edit denied user_id=%s task_id=%s org=%s",
            request.user.pk,
            task.pk,
            org.slug,
            extra={"task_id": task.pk, "org_slug": org.slug},
        )
        raise PermissionDenied("Only the task's creator, its assignee or an org owner may edit it.")
    form = TaskForm(request.POST or None, instance=task, org=org)
    if request.method == "POST" and form.is_valid():
        form.save()
        logger.info(
            "task updated org=%s task_id=%s", org.slug, task.pk, extra={"org_slug": org.slug, "task_id": task.pk}
        )
        messages.success(request, f"Task “{task.title}” saved.")
        return redirect("tasks:task-list", slug=org.slug)
    return render(request, "tasks/task_form.html", {"org": org, "form": form, "task": task})


def _csv_cell(value: object) -> str:
    """Text for one CSV cell, defused so a spreadsheet never runs it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


@login_required
@require_GET
def task_export(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    membership = _membership(request, slug)
    org = membership.org
    filters = TaskFilters.from_request(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-tasks.csv"'
    writer = csv.writer(response)
    writer.writerow(["id", "title", "description", "status", "assignee", "created_by", "created_at", "updated_at"])
    count = 0
    for task in filters.apply(_org_tasks(org)).iterator(chunk_size=500):
        writer.writerow(
            [
                task.pk,
                _csv_cell(task.title),
                _csv_cell(task.description),
                task.status,
                _csv_cell(task.assignee.get_username() if task.assignee else ""),
                _csv_cell(task.created_by.get_username()),
                task.created_at.isoformat(),
                task.updated_at.isoformat(),
            ]
        )
        count += 1
    # Exercise 1: who exported what. Only the whitelisted filters are logged,
    # never the raw query string, cookies or headers. q is free text, so it is
    # repr()-quoted: "q='x count=9'" cannot pass for a second count field.
    logger.info(
        "tasks exported org=%s user_id=%s status=%s q=%r count=%d",
        org.slug,
        request.user.pk,
        filters.status or "-",
        filters.q,
        count,
        extra={
            "org_slug": org.slug,
            "filter_status": filters.status,
            "filter_q": filters.q,
            "exported_count": count,
        },
    )
    return response
