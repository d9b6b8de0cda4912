"""Settings of the probe features: non-critical checks, per-check timeouts, the disk check.

Validated with the rest of ``LANTERN`` at start-up (``conf.build_settings``);
kept here so that ``conf.py`` only wires them in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROBE_DEFAULTS: dict[str, Any] = {
    # Check names (keys of the /readyz "checks") whose failure is reported but never turns the probe 503.
    "READINESS_NON_CRITICAL": [],
    # {check name: seconds}: a timeout per check, over the check's own default.
    "READINESS_CHECK_TIMEOUTS": {},
    # The "disk" check: the path whose file system it measures (None: MEDIA_ROOT, else the working directory)
    "READINESS_DISK_PATH": None,
    # ... and the free space it needs: a number of bytes, or a percentage of the file system as "5%".
    "READINESS_DISK_MIN_FREE": "5%",
}

_PERCENT = re.compile(r"(\d{1,2}(?:\.\d+)?|100)%")

# (key, value, what it must be)
AddError = Callable[[str, object, str], None]


@dataclass(frozen=True)
class ProbeOptions:
    non_critical: frozenset[str] = frozenset()
    check_timeouts: Mapping[str, float] = field(default_factory=dict)
    disk_path: str | None = None
    # Exactly one of these two is set.
    disk_min_free_bytes: int | None = None
    disk_min_free_percent: float | None = 5.0


def parse_probe_options(raw: Mapping[str, Any], add_error: AddError) -> ProbeOptions:
    non_critical = raw["READINESS_NON_CRITICAL"]
    if not isinstance(non_critical, (list, tuple)) or not all(isinstance(v, str) for v in non_critical):
        add_error("READINESS_NON_CRITICAL", non_critical, 'a list of check names such as ["cache:default"]')
        non_critical = ()

    timeouts: dict[str, float] = {}
    configured = raw["READINESS_CHECK_TIMEOUTS"]
    if not isinstance(configured, Mapping):
        add_error(
            "READINESS_CHECK_TIMEOUTS", configured, 'a dict of {check name: seconds} such as {"migrations:default": 3}'
        )
    else:
        for name, seconds in configured.items():
            if (
                not isinstance(name, str)
                or isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or not seconds > 0
            ):
                add_error("READINESS_CHECK_TIMEOUTS", {name: seconds}, "a dict of {check name: seconds > 0}")
                continue
            timeouts[name] = float(seconds)

    disk_path = raw["READINESS_DISK_PATH"]
    if disk_path is not None and (not isinstance(disk_path, str) or not disk_path):
        add_error("READINESS_DISK_PATH", disk_path, "None or the path of a directory on the file system to watch")
        disk_path = None

    min_free = raw["READINESS_DISK_MIN_FREE"]
    min_bytes: int | None = None
    percent: float | None = None
    if isinstance(min_free, int) and not isinstance(min_free, bool) and min_free >= 0:
        min_bytes = min_free
    elif isinstance(min_free, str) and _PERCENT.fullmatch(min_free):
        percent = float(min_free[:-1])
    else:
        add_error("READINESS_DISK_MIN_FREE", min_free, 'a number of bytes (int >= 0) or a percentage such as "5%"')
        percent = 5.0
    return ProbeOptions(frozenset(non_critical), timeouts, disk_path, min_bytes, percent)
