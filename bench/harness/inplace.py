"""Stage ``inplace``: µs per request of each piece of lantern, timed inside real requests under gunicorn.

The example's task list (as the ``page`` stage serves it, logged in, one sync
worker) runs under wrk with the timers of ``benchproj/inplace.py`` installed
by the settings (``pageinplace``; ``pagebareinplace`` for bare Django's
request and queries). The worker writes its totals every half second; the
difference between a snapshot after the warm-up and one after the timed run
gives µs per request per component, wall and CPU, inclusive and own. Unlike
the hot loops of tables 1, 5 and 6, each piece runs here between Django, the
template engine and SQLite, with the caches as a real page leaves them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from harness import http
from harness.page import EXAMPLE_DIR, PATH, _get

ROLES = (("bare", "pagebareinplace"), ("lantern", "pageinplace"))
_SETTLE_S = 0.7  # longer than the worker's dump interval


def _snapshot(directory: Path, server: http.Server, cookie: str) -> dict[str, Any]:
    """The summed totals of the server's workers, after one request that makes each idle worker dump."""
    time.sleep(_SETTLE_S)
    _get(server.url, cookie)
    time.sleep(0.1)
    components: dict[str, list[int]] = {}
    absent: list[str] = []
    wrapper_ns = [0, 0]
    for path in directory.glob("inplace-*.json"):
        data = json.loads(path.read_text())
        absent = data.get("absent", absent)
        wrapper_ns = data.get("wrapper_ns", wrapper_ns)
        for name, values in data["components"].items():
            into = components.setdefault(name, [0] * len(values))
            for i, value in enumerate(values):
                into[i] += value
    return {"components": components, "absent": absent, "wrapper_ns": wrapper_ns}


def _per_request(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    first, last = before["components"], after["components"]
    names = list(last)
    root = names[0] if names else None
    requests = (last[root][0] - first.get(root, [0])[0]) if root else 0
    rows: dict[str, Any] = {}
    for name in names:
        delta = [b - a for a, b in zip(first.get(name, [0] * 5), last[name], strict=True)]
        if not requests or not delta[0]:
            continue
        calls, wall, cpu, own_wall, own_cpu = delta
        rows[name] = {
            "calls_per_request": round(calls / requests, 2),
            "wall_us": round(wall / requests / 1000, 2),
            "cpu_us": round(cpu / requests / 1000, 2),
            "own_wall_us": round(own_wall / requests / 1000, 2),
            "own_cpu_us": round(own_cpu / requests / 1000, 2),
        }
    wall_ns, cpu_ns = after["wrapper_ns"]
    return {
        "requests": requests,
        "components": rows,
        "absent": after["absent"],
        "wrapper_us": {"wall": round(wall_ns / 1000, 2), "cpu": round(cpu_ns / 1000, 2)},
    }


def run(seconds: int, connections: int, tmp: Path, log: IO[str], cookie: str) -> dict[str, Any]:
    result: dict[str, Any] = {"path": PATH, "seconds": seconds, "connections": connections, "workers": 1}
    headers = (f"Cookie: {cookie}",)
    for role, config in ROLES:
        directory = Path(tmp) / f"inplace-{role}"
        directory.mkdir(exist_ok=True)
        server = http.Server(
            config,
            1,
            tmp,
            log,
            # benchproj.wsgi is config.wsgi plus the settings' BENCH_BEFORE_SETUP hook, which installs the timers.
            app="benchproj.wsgi:application",
            path=PATH,
            pythonpath=(EXAMPLE_DIR,),
            extra_env={"BENCH_INPLACE_DIR": str(directory)},
        )
        try:
            http.wrk(server.url, 2, connections, headers)  # warm-up, left out by the difference
            before = _snapshot(directory, server, cookie)
            timed = http.wrk(server.url, seconds, connections, headers)
            after = _snapshot(directory, server, cookie)
        finally:
            server.stop()
        entry = _per_request(before, after)
        entry["rps"] = timed["rps"]
        entry["errors"] = timed["socket_errors"] + timed["non_2xx"]
        result[role] = entry
        log.write(f"  in place, {role}: {entry['requests']} requests, {timed['rps']:.0f} rps\n")
        log.flush()
    return result
