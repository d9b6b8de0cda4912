"""The example's URLs plus the error tests' views, for the real-server Sentry tests."""

from __future__ import annotations

from config.urls import urlpatterns as example_urlpatterns
from tests.urls_errors import urlpatterns as error_urlpatterns

urlpatterns = [*error_urlpatterns, *example_urlpatterns]
