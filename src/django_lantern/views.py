"""Views behind ``django_lantern.urls``; the responses are built in one place."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from django_lantern.health.views import healthz_response, readyz_response
from django_lantern.metrics.views import metrics_response

try:  # Django 5.1+: exempt from LoginRequiredMiddleware
    from django.contrib.auth.decorators import login_not_required
except ImportError:  # pragma: no cover - Django < 5.1
    def login_not_required(view):  # type: ignore[no-untyped-def]
        return view


@csrf_exempt
@login_not_required
def healthz(request: HttpRequest) -> HttpResponseBase:
    return healthz_response(request)


@csrf_exempt
@login_not_required
def readyz(request: HttpRequest) -> HttpResponseBase:
    return readyz_response(request)


@csrf_exempt
@login_not_required
def metrics(request: HttpRequest) -> HttpResponseBase:
    return metrics_response(request)
