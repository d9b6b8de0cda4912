"""The example's URLs plus the error tests' and the streaming tests' views, for the real-server Sentry tests."""

from __future__ import annotations

from django.urls import path

from config.urls import urlpatterns as example_urlpatterns
from tests.server.streaming_urls import afail, fail
from tests.urls_errors import urlpatterns as error_urlpatterns

urlpatterns = [
    path("stream/fail/", fail),
    path("astream/fail/", afail),
    *error_urlpatterns,
    *example_urlpatterns,
]
