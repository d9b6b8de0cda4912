from __future__ import annotations

from django.apps import apps
from django.urls import URLPattern, URLResolver, include, path

from benchproj import views
from chapter.views import readyz as chapter_readyz

urlpatterns: list[URLPattern | URLResolver] = [
    path("data/", views.data, name="data"),
    path("items/<int:pk>/", views.item, name="item"),
    path("chapter/readyz/", chapter_readyz, name="chapter-readyz"),
]
if apps.is_installed("django_lantern"):
    urlpatterns.append(path("", include("django_lantern.urls")))
if apps.is_installed("django_prometheus"):
    urlpatterns.append(path("", include("django_prometheus.urls")))
