"""Views behind ``django_lantern.urls``; the responses are built in one place."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required  # Django 5.1+; we require 5.2
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from django_lantern.health.views import healthz_response, readyz_response
from django_lantern.metrics.views import metrics_response


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
