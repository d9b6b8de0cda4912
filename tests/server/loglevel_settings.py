"""The example's settings plus the probe app (tests/server/test_loglevel.py)."""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.server.loglevel_probe"]
ROOT_URLCONF = "tests.server.loglevel_probe.views"
CELERY_IMPORTS = ["tests.server.loglevel_probe.tasks"]
