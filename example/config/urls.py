from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("django_lantern.urls")),
    path("", include("pages.urls")),
    path("", include("pages.async_views")),  # /async-echo/, for tests/test_middleware_async.py and tests/server/
    path("accounts/", include("django.contrib.auth.urls")),
    path("orgs/", include("tasks.urls")),
    path("admin/", admin.site.urls),
    path("_system/", include("pages.system_views")),  # empty unless LANTERN_SYSTEM_VIEWS=1 (tests/system)
]
