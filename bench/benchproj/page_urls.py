"""``example/config/urls.py`` without django-lantern's routes (and the test-only ones), for ``settings_pagebare``."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("pages.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("orgs/", include("tasks.urls")),
    path("admin/", admin.site.urls),
]
