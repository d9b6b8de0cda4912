"""The example's settings for the real-server repeated-errors test: the error views' URLs and
the interval between two full lines of one error from ``LANTERN_TEST_REPEAT_INTERVAL``."""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import DEBUG
from django_lantern.logging import build_logging_config

ROOT_URLCONF = "tests.server.sentry_urls"
LOGGING = build_logging_config(
    debug=DEBUG, repeated_error_interval=float(os.environ.get("LANTERN_TEST_REPEAT_INTERVAL", "60"))
)
