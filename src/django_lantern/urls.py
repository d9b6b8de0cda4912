"""``path("", include("django_lantern.urls"))``: ``healthz``, ``readyz`` and
``metrics``, each with and without a trailing slash and never redirected.

``LanternMiddleware`` already answers these paths before other middleware
runs; these routes serve them when a project turns that off (by setting a
path to ``None``) or mounts them under a prefix.
"""

from __future__ import annotations

from django.urls import re_path

from django_lantern import views

__all__ = ["app_name", "urlpatterns"]

app_name = "lantern"

urlpatterns = [
    re_path(r"^healthz/?\Z", views.healthz, name="healthz"),
    re_path(r"^readyz/?\Z", views.readyz, name="readyz"),
    re_path(r"^readyz/(?P<check>[^/]+)/?\Z", views.readyz, name="readyz-check"),
    re_path(r"^metrics/?\Z", views.metrics, name="metrics"),
]
