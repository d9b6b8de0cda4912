"""The example's settings (with the django.tasks database backend of tests/jobs) and DEBUG_ON_ERROR on."""

from __future__ import annotations

from tests.jobs.djtasks_settings import *  # noqa: F403
from tests.jobs.djtasks_settings import LANTERN

ROOT_URLCONF = "tests.server.debug_on_error_urls"
LANTERN = {**LANTERN, "DEBUG_ON_ERROR": True}
