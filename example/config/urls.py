from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("pages.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("orgs/", include("tasks.urls")),
    path("admin/", admin.site.urls),
    # Routes for the tests only, after the app's own: Django tries the patterns in order,
    # so every request of the app would otherwise try these first.
    path("", include("pages.async_views")),  # /async-echo/, for tests/test_middleware_async.py and tests/server/
    path("ops/", include("django_lantern.ops.urls")),  # the operations page, staff only (docs/ops.md)
    path("_system/", include("pages.system_views")),  # empty unless LANTERN_SYSTEM_VIEWS=1 (tests/system)
    # Last: LanternMiddleware answers /healthz, /readyz and /metrics before the URLconf is
    # consulted, so these routes only serve a path set to None in LANTERN; first, Django
    # would try their four patterns on every other request before reaching the app's own.
    path("", include("django_lantern.urls")),
]
