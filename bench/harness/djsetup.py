"""Start Django for one configuration inside a benchmark subprocess."""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

SETTINGS = {
    "bare": "benchproj.settings_bare",
    "chapter": "benchproj.settings_chapter",
    "lantern": "benchproj.settings_lantern",
    "lanternotel": "benchproj.settings_lanternotel",
    "peers": "benchproj.settings_peers",
    "services": "benchproj.settings_services",
    # Ablations of the lantern configuration (profile stage).
    "lanternnolog": "benchproj.settings_lanternnolog",
    "lanternnometrics": "benchproj.settings_lanternnometrics",
    "lanterncore": "benchproj.settings_lanterncore",
    "lanterntext": "benchproj.settings_lanterntext",
}


def setup(config: str) -> None:
    """Point Django at the configuration's settings, run its pre-setup hook, ``django.setup()``.

    Raises ``benchproj.hooks.Unavailable`` when the configuration cannot run here.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS[config]
    import django

    from benchproj.hooks import before_setup

    before_setup()
    django.setup()


def protocol_stream() -> IO[str]:
    """A private copy of stdout for JSON results; fd 1 then points at stderr so no stray print corrupts them."""
    stream = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def emit(stream: IO[str], payload: dict[str, Any]) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def rss_kib() -> int:
    """Current resident set size of this process, in KiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pin_to_last_cpu() -> None:
    """Keep a timed process on one CPU, away from the runner and wrk (fewer migrations)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[-1]})
    except (AttributeError, OSError):
        pass
