"""Start Django for one configuration inside a benchmark subprocess."""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any


def settings_module(config: str) -> str:
    """A configuration's settings module: ``benchproj/settings_<config>.py`` (``base.CONFIG`` reads it back)."""
    return f"benchproj.settings_{config}"


def setup(config: str, pace: float = 1.0) -> None:
    """Point Django at the configuration's settings, run its pre-setup hook, ``django.setup()``.

    ``pace``: how many times slower than at full speed the requests will run (under callgrind,
    or the opcode tracer); lantern's wall-clock thresholds are multiplied by it first
    (:func:`_scale_slow_thresholds`). Raises ``benchproj.hooks.Unavailable`` when the
    configuration cannot run here.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module(config)
    if pace != 1.0:
        _scale_slow_thresholds(pace)
    import django

    from benchproj.hooks import before_setup

    before_setup()
    django.setup()


def _scale_slow_thresholds(pace: float) -> None:
    """Multiply lantern's ``SLOW_REQUEST_MS`` and ``SLOW_QUERY_MS`` by ``pace`` in the settings,
    so that a request is slow at a tracer's pace only if it would be slow at full speed. Under
    callgrind a task list request takes about a second, so the 1,000 ms default made some
    counted requests slow (a WARNING line, a record for the operations page) depending on how
    fast valgrind ran that day.

    The settings' ``LANTERN`` dict is edited in place before any code reads it.
    ``override_settings`` after set-up would do the same, but its settings holder makes every
    later read of a Django setting cost more, and bare Django would not pay that."""
    from django.conf import settings

    if "django_lantern" not in settings.INSTALLED_APPS:
        return
    from django_lantern.conf import DEFAULTS

    lantern = getattr(settings, "LANTERN", None)
    if lantern is None:
        lantern = settings.LANTERN = {}
    for key in ("SLOW_REQUEST_MS", "SLOW_QUERY_MS"):
        value = lantern.get(key, DEFAULTS[key])
        if value is not None:
            lantern[key] = value * pace


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
