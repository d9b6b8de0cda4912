"""Start Django for one configuration inside a benchmark subprocess."""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any


def settings_module(config: str) -> str:
    """A configuration's settings module: ``benchproj/settings_<config>.py`` (``base.CONFIG`` reads it back)."""
    return f"benchproj.settings_{config}"


def setup(config: str) -> None:
    """Point Django at the configuration's settings, run its pre-setup hook, ``django.setup()``.

    Raises ``benchproj.hooks.Unavailable`` when the configuration cannot run here.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(config)
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
