"""cProfile of N in-process WSGI requests for one configuration (``python -m harness.profile CONFIG N OUT``).

Emits the profiled µs per request, own time per area (a module or package) and
the top functions, all per request. cProfile inflates code made of many small
calls, so the runner pairs this with un-profiled ablations (see ``run.py``)
for the real µs; the profile says where inside a component the time goes.
"""

from __future__ import annotations

import cProfile
import itertools
import pstats
import sys
import time
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
    if path.endswith("posixpath.py"):
        return "stdlib logging (findCaller: os.path.normcase)"
    if path.endswith(("threading.py", "contextvars.py")):
        return "stdlib threading"
    if "/harness/" in path:
        return "bench driver"
    return Path(path).name


def main(config: str, n: int, out_path: str) -> None:
    out = protocol_stream()
    pin_to_last_cpu()
    setup(config)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    env = drive.environ("/data/")
    requests = itertools.repeat(env)
    drive.wsgi_batch(app, requests, 2000)  # type: ignore[arg-type]
    unprofiled = drive.wsgi_batch(app, requests, n) / n * 1e6  # type: ignore[arg-type]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    drive.wsgi_batch(app, requests, n)  # type: ignore[arg-type]
    profiler.disable()
    profiled = (time.perf_counter() - start) / n * 1e6
    profiler.dump_stats(out_path)
    stats = pstats.Stats(profiler)
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
            "requests": n,
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
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
