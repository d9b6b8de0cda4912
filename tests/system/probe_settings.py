"""Settings for tests/system/test_probes.py: the system suite's, plus checks that fail on purpose.

- ``disk`` (critical) fails on purpose: it asks for 100 % of the file system free;
- ``custom:failing_on_purpose`` (non-critical) always fails;
- ``migrations:default`` and ``storage:default`` pass on the suite's migrated database.
"""

from __future__ import annotations

import os

from django_lantern.health.checks import CheckFailed
from tests.system.sysettings import *  # noqa: F403
from tests.system.sysettings import LANTERN as _SYSTEM_LANTERN

BUILTIN = "django_lantern.health.builtin."

MEDIA_ROOT = os.environ["LANTERN_SYSTEM_MEDIA_ROOT"]  # a temporary directory of the test's

LANTERN = {
    **_SYSTEM_LANTERN,
    "READINESS_CHECKS": [
        BUILTIN + "MigrationsCheck",
        BUILTIN + "StorageCheck",
        BUILTIN + "DiskSpaceCheck",
        "tests.system.probe_settings.failing_on_purpose",
    ],
    "READINESS_NON_CRITICAL": ["custom:failing_on_purpose"],
    "READINESS_DISK_MIN_FREE": "100%",
}


def failing_on_purpose() -> None:
    raise CheckFailed("failing on purpose")
