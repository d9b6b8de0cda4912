"""The bench's URLs plus the operations page, which turns its recording on."""

from __future__ import annotations

from django.urls import include, path

from benchproj.urls import urlpatterns as base_patterns

urlpatterns = [*base_patterns, path("ops/", include("django_lantern.ops.urls"))]
