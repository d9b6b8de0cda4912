"""``path("", include("django_lantern.urls"))``: ``healthz``, ``readyz`` and
``metrics``, each with and without a trailing slash and never redirected.

``LanternMiddleware`` already answers these paths before other middleware
runs; these routes serve them when a project turns that off (by setting a
path to ``None``) or mounts them under a prefix.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required  # Django 5.1+; we require 5.2
from django.http import HttpRequest, HttpResponseBase
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from django_lantern.health._views import healthz_response, readyz_response
from django_lantern.metrics._views import metrics_response

__all__ = ["app_name", "urlpatterns"]

app_name = "lantern"


@csrf_exempt
@login_not_required
def healthz(request: HttpRequest) -> HttpResponseBase:
    return healthz_response(request)


@csrf_exempt
@login_not_required
def readyz(request: HttpRequest, check: str | None = None) -> HttpResponseBase:
    return readyz_response(request, check)


@csrf_exempt
@login_not_required
def metrics(request: HttpRequest) -> HttpResponseBase:
    return metrics_response(request)


urlpatterns = [
    re_path(r"^healthz/?\Z", healthz, name="healthz"),
    re_path(r"^readyz/?\Z", readyz, name="readyz"),
    re_path(r"^readyz/(?P<check>[^/]+)/?\Z", readyz, name="readyz-check"),
    re_path(r"^metrics/?\Z", metrics, name="metrics"),
]
