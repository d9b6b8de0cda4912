"""When this process started: the ``lantern_process_start_time_seconds`` gauge and
``/metrics`` status uptime, per pid (a forked worker reports its own start)."""

from __future__ import annotations

import functools
import os
import time

PROCESS_START = time.time()
_IMPORT_PID = os.getpid()


def _os_start_time() -> float | None:
    """The kernel's start time of this process (Linux), so a worker forked after
    import (gunicorn ``preload_app``) reports its own start, not the master's."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            # Field 22 counts clock ticks since boot; the command name (field 2)
            # may contain spaces, so split after its closing parenthesis.
            ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])
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
