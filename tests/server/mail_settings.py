"""The example's settings for the real-server mail test: admins set, SMTP at ``LANTERN_TEST_SMTP_PORT``
(a black hole), and a readiness check that always fails."""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import LANTERN as _EXAMPLE_LANTERN

ROOT_URLCONF = "tests.server.sentry_urls"
DEBUG = False
ADMINS = [("Ops", "ops@example.com")]
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["LANTERN_TEST_SMTP_PORT"])
EMAIL_TIMEOUT = None  # Django's default: without the handler's own timeout a send waits for ever
LANTERN = {
    **_EXAMPLE_LANTERN,
    "ACCESS_LOG_SAMPLE_PATHS": {},
    "READINESS_CHECKS": ["tests.metrics.urls_boom.failing_check"],
}
