"""When this process started: the ``lantern_process_start_time_seconds`` gauge and
``/metrics`` status uptime, per pid (a forked worker reports its own start)."""

from __future__ import annotations

import functools
import os
import time

PROCESS_START = time.time()
_IMPORT_PID = os.getpid()


def start_ticks(pid: int | str) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # Field 22; the command name (field 2) may contain spaces, so split after its closing parenthesis.
            return int(stat.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _os_start_time() -> float | None:
    """The kernel's start time of this process (Linux), so a worker forked after
    import (gunicorn ``preload_app``) reports its own start, not the master's."""
    ticks = start_ticks("self")
    if ticks is None:
        return None
    try:
        with open("/proc/stat", "rb") as boot:
            btime = next(int(line.split()[1]) for line in boot if line.startswith(b"btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def process_start() -> float:
    """Unix time this process started (read once per pid); the import time where /proc is missing."""
    return _start_of(os.getpid())


@functools.cache
def _start_of(pid: int) -> float:
    return _os_start_time() or (PROCESS_START if pid == _IMPORT_PID else time.time())
