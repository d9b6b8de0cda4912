"""Org and task views: list, create, edit, CSV export (a large org's as a background job).

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
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from tasks import exports
from tasks.forms import TaskForm
from tasks.models import Export, Membership, Org, Task

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


@login_required
@require_GET
def task_export(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    membership = _membership(request, slug)
    org = membership.org
    filters = TaskFilters.from_request(request)
    tasks = filters.apply(_org_tasks(org))
    # A large org's export is a background job: the page says where to fetch it.
    if tasks.count() > exports.inline_max_rows():
        request_id = getattr(request, "request_id", "")
        export, enqueued = exports.queue_export(org, request.user, filters.status, filters.q, request_id)
        logger.info(
            "export queued org=%s export_id=%s",
            org.slug,
            export.pk,
            extra={"org_slug": org.slug, "export_id": str(export.pk), "enqueued": enqueued},
        )
        # 202: accepted, not done; the page says where the result will be.
        return _status_page(request, export, status=202)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-tasks.csv"'
    count = exports.write_rows(csv.writer(response), tasks)
    exports.log_exported(org, request.user.pk, filters.status, filters.q, count)
    return response


def _status_page(request: HttpRequest, export: Export, status: int = 200) -> HttpResponse:
    response = render(request, "tasks/export_status.html", {"org": export.org, "export": export}, status=status)
    if export.pending:
        # Reload the status page until the job is done (no script, no template hook needed).
        response["Refresh"] = "2; url=" + reverse("tasks:export-status", args=[export.org.slug, export.pk])
    return response


def _own_export(request: AuthenticatedRequest, slug: str, export_id: str) -> Export:
    """Only the member who asked for an export sees it; anyone else gets 404."""
    membership = _membership(request, slug)
    return get_object_or_404(Export, pk=export_id, org=membership.org, requested_by=request.user)


@login_required
@require_GET
def export_status(request: AuthenticatedRequest, slug: str, export_id: str) -> HttpResponse:
    return _status_page(request, _own_export(request, slug, export_id))


@login_required
@require_GET
def export_download(request: AuthenticatedRequest, slug: str, export_id: str) -> HttpResponse:
    export = _own_export(request, slug, export_id)
    if export.state != Export.State.DONE:
        return redirect("tasks:export-status", slug=slug, export_id=export.pk)
    response = HttpResponse(export.content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.org.slug}-tasks.csv"'
    return response
