"""``path("", include("django_lantern.urls"))``: ``healthz``, ``readyz``,
``metrics``, ``statusz`` and ``threadz``, each with and without a trailing slash and never redirected.

``LanternMiddleware`` already answers these paths before other middleware
runs; these routes serve them when a project turns that off (by setting a
path to ``None``) or mounts them under a prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required  # Django 5.1+; we require 5.2
from django.http import HttpRequest, HttpResponseBase
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from django_lantern.health._views import healthz_response, readyz_response
from django_lantern.metrics._status import status_response
from django_lantern.metrics._threads import threads_response
from django_lantern.metrics._views import metrics_response

__all__ = ["app_name", "urlpatterns"]

app_name = "lantern"


def _not_logged(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Keep a probe's 4xx/5xx off ``django.request``, as the middleware does for the probes it answers:
    a failing probe is an answer, and at ERROR it would mail the admins once per probe."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response._has_been_logged = True  # type: ignore[attr-defined]  # read by django.utils.log.log_response
        return response

    return wrapper


@csrf_exempt
@login_not_required
@_not_logged
def healthz(request: HttpRequest) -> HttpResponseBase:
    return healthz_response(request)


@csrf_exempt
@login_not_required
@_not_logged
def readyz(request: HttpRequest, check: str | None = None) -> HttpResponseBase:
    return readyz_response(request, check)


@csrf_exempt
@login_not_required
@_not_logged
def metrics(request: HttpRequest) -> HttpResponseBase:
    return metrics_response(request)


@csrf_exempt
@login_not_required
@_not_logged
def statusz(request: HttpRequest) -> HttpResponseBase:
    return status_response(request)


@csrf_exempt
@login_not_required
@_not_logged
def threadz(request: HttpRequest) -> HttpResponseBase:
    return threads_response(request)


urlpatterns = [
    re_path(r"^healthz/?\Z", healthz, name="healthz"),
    re_path(r"^readyz/?\Z", readyz, name="readyz"),
    re_path(r"^readyz/(?P<check>[^/]+)/?\Z", readyz, name="readyz-check"),
    re_path(r"^metrics/?\Z", metrics, name="metrics"),
    re_path(r"^statusz/?\Z", statusz, name="statusz"),
    re_path(r"^threadz/?\Z", threadz, name="threadz"),
]
