"""The jobs project serves only django-lantern's own endpoints."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("django_lantern.urls"))]
