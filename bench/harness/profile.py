"""cProfile of N in-process requests for one configuration (``python -m harness.profile CONFIG N OUT [MODE]``).

``MODE`` is ``wsgi`` (the default) or ``asgi``. Emits the profiled µs per
request, own time per area (a module or package) and the top functions, all
per request. cProfile inflates code made of many small calls, so the runner
pairs this with un-profiled ablations (see ``run.py``) for the real µs; the
profile says where inside a component the time goes.

Under ASGI Django runs each request's sync middleware and view in a thread of
its own (asgiref's per-request ``ThreadSensitiveContext`` executor), which a
``cProfile.Profile`` enabled in the event-loop thread never sees: every new
thread gets a profiler of its own (``threading.setprofile``), and all are
merged. cProfile's clock is wall time, so a thread blocked while another
works (the event loop's ``epoll``, lock and queue waits) is counted too; that
time is kept in its own area, ``waiting``.
"""

from __future__ import annotations

import asyncio
import cProfile
import itertools
import pstats
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import drive
from harness.djsetup import emit, pin_to_last_cpu, protocol_stream, setup

TOP = 30


def area(filename: str, function: str) -> str:
    """A readable bucket for a profiled function's own time."""
    path = filename.replace("\\", "/")
    if "django_lantern/" in path:
        return "django_lantern." + path.split("django_lantern/", 1)[1].removesuffix(".py").replace("/", ".")
    if "/opentelemetry/" in path:
        return "opentelemetry (api + sdk)"
    if "prometheus_client/" in path:
        return "prometheus_client"
    if path.endswith("logging/__init__.py"):
        return "stdlib logging"
    if "/django/" in path:
        part = path.split("/django/", 1)[1].split("/")
        return "django." + ".".join(p.removesuffix(".py") for p in part[:2])
    if path == "~":
        if any(wait in function for wait in ("select.epoll", "acquire' of '_thread", "'get' of '_queue.SimpleQueue")):
            return "waiting (event-loop poll, locks, queues: other threads run)"
        if "'put' of '_queue.SimpleQueue" in function or "_socket.socket" in function:
            return "thread hand-off (queue put, event-loop wake-up socket)"
        if "start_new_thread" in function:
            return "thread start (_thread.start_new_thread)"
        if "re.Pattern" in function:
            return "regex engine (re.Pattern.search/match)"
        if "orjson" in function:
            return "orjson"
        if "urandom" in function or "hex" in function:
            return "builtins (os.urandom, hex)"
        if "strftime" in function or "gmtime" in function:
            return "builtins (time.strftime/gmtime)"
        if "write" in function or "flush" in function:
            return "builtins (file write/flush)"
        return "builtins (other)"
    if "/asgiref/" in path:
        return "asgiref"
    if "/asyncio/" in path:
        return "stdlib asyncio"
    if "/concurrent/futures/" in path:
        return "stdlib concurrent.futures"
    if path.endswith("posixpath.py"):
        return "stdlib logging (findCaller: os.path.normcase)"
    if path.endswith(("threading.py", "contextvars.py")):
        return "stdlib threading"
    if "/harness/" in path:
        return "bench driver"
    return Path(path).name


def profile_wsgi(n: int) -> tuple[float, float, list[cProfile.Profile]]:
    """Un-profiled and profiled µs per request through the WSGI handler, and the profiler."""
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    requests = itertools.repeat(drive.environ("/data/"))
    drive.wsgi_batch(app, requests, 2000)  # type: ignore[arg-type]
    unprofiled = drive.wsgi_batch(app, requests, n) / n * 1e6  # type: ignore[arg-type]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    drive.wsgi_batch(app, requests, n)  # type: ignore[arg-type]
    profiler.disable()
    return unprofiled, (time.perf_counter() - start) / n * 1e6, [profiler]


def profile_asgi(n: int) -> tuple[float, float, list[cProfile.Profile]]:
    """The same through the ASGI handler, with one profiler per thread (see the module docstring)."""
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    requests = itertools.repeat(drive.scope("/data/"))
    drive.asgi_batch(loop, app, requests, 500)  # type: ignore[arg-type]
    unprofiled = drive.asgi_batch(loop, app, requests, n) / n * 1e6  # type: ignore[arg-type]
    profilers = [cProfile.Profile()]

    def profile_new_thread(frame: object, event: str, arg: object) -> None:
        # Called once, on a new thread's first event: hand the thread to a profiler of its own.
        thread_profiler = cProfile.Profile()
        profilers.append(thread_profiler)
        thread_profiler.enable()

    start = time.perf_counter()
    threading.setprofile(profile_new_thread)  # type: ignore[arg-type]
    profilers[0].enable()
    drive.asgi_batch(loop, app, requests, n)  # type: ignore[arg-type]
    profilers[0].disable()
    threading.setprofile(None)  # type: ignore[arg-type]
    profiled = (time.perf_counter() - start) / n * 1e6
    loop.close()
    return unprofiled, profiled, profilers


PROFILERS: dict[str, Callable[[int], tuple[float, float, list[cProfile.Profile]]]] = {
    "wsgi": profile_wsgi,
    "asgi": profile_asgi,
}


def main(config: str, n: int, out_path: str, mode: str = "wsgi") -> None:
    out = protocol_stream()
    pin_to_last_cpu()
    setup(config)
    unprofiled, profiled, profilers = PROFILERS[mode](n)
    stats = pstats.Stats(profilers[0])
    for thread_profiler in profilers[1:]:
        stats.add(thread_profiler)
    stats.dump_stats(out_path)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    areas: dict[str, float] = {}
    functions = []
    for (filename, line, function), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        bucket = area(filename, function)
        areas[bucket] = areas.get(bucket, 0.0) + tottime
        name = f"{Path(filename).name}:{line}({function})" if filename != "~" else function
        if "django_lantern/" in filename:
            name = "django_lantern/" + filename.split("django_lantern/", 1)[1] + f":{line}({function})"
        functions.append(
            {
                "function": name,
                "calls_per_request": round(ncalls / n, 2),
                "own_us": round(tottime / n * 1e6, 2),
                "cumulative_us": round(cumtime / n * 1e6, 2),
            }
        )
    functions.sort(key=lambda f: f["own_us"], reverse=True)
    emit(
        out,
        {
            "config": config,
            "mode": mode,
            "requests": n,
            "threads_profiled": len(profilers),
            "unprofiled_us": round(unprofiled, 1),
            "profiled_us": round(profiled, 1),
            "areas_own_us": {k: round(v / n * 1e6, 2) for k, v in sorted(areas.items(), key=lambda kv: -kv[1])},
            "top_own": functions[:TOP],
            "lantern_cumulative": sorted(
                (f for f in functions if f["function"].startswith("django_lantern/")),
                key=lambda f: -f["cumulative_us"],
            )[:TOP],
        },
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], *sys.argv[4:5])
