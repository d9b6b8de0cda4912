"""How long the operations page takes to render with a full hour in the cache and 1,000 series.

``python -m harness.ops_render [--series 1000] [--hosts 1] [--rounds 20] [--src DIR]``

One process, the ``lanternops`` configuration (local-memory cache, so the
cache's reads cost no network round trip: add yours). Before timing: 1,000
routes served once each (1,000 request-count and 1,000 latency series in the
registry), then for each host 61 per-minute snapshots of those routes and the
newest 400 record batches (the page's read limit), each with exception,
N+1, slow-query and slow-request groups at their caps. Then the view is
called ``--rounds`` times as a staff user; the figures are the median and
the slowest render, wall-clock, and the median CPU time of the process
(a loaded machine inflates the wall-clock figures; the target is 100 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

TARGET_MS = 100.0


def _fill(series: int, hosts: int) -> None:

    from django_lantern.metrics import _recorder as recorder
    from django_lantern.ops import _record, _snapshot, _store

    for i in range(series):
        recorder.request_finished("GET", f"/route/{i}/<int:pk>/", 200 if i % 10 else 500, 0.01 + i / 10000, probe=False)
    small, routes = _snapshot.split(_snapshot.take())
    backend = _store.cache()
    now = time.time()
    minute = int(now // 60)
    names = [_record.host(), *(f"pod-{n}" for n in range(1, hosts))]
    for name in names:
        for m in range(minute - 60, minute + 1):
            _store.put(backend, _store.snapshot_key(name, m), small)
            _store.put(backend, _store.routes_key(name, m), routes)
        _store.remember(backend, _store.HOSTS, name)
    group = {"count": 3, "first": now - 100, "last": now, "ids": [f"{n:032x}" for n in range(_record.MAX_IDS)]}
    batch = {
        "exceptions": [{**group, "type": f"app.errors.Error{n}", "route": f"/route/{n}/"} for n in range(20)],
        "insights": [
            {
                **group,
                "insight": kind,
                "shape": "SELECT ... FROM t WHERE id = ?" * 5,
                "route": f"/r/{n}/",
                "callsite": "app/views.py:25",
                "n": 10,
                "db_ms": 300.0,
            }
            for n in range(20)
            for kind in ("n_plus_one", "slow_query")
        ],
        "slow": [{"at": now, "method": "GET", "route": "/r/", "status": 200, "ms": 1500.0, "id": "x" * 32}] * 20,
        "dropped": 0,
    }
    for _ in range(_store.MAX_BATCHES):
        _store.write_batch(backend, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--src", type=Path, default=None)
    args = parser.parse_args()
    if args.src is not None:
        sys.path.insert(0, str(args.src.resolve()))
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchproj.settings_lanternops"
    from benchproj.hooks import hold_ops_flush
    from harness.djsetup import setup

    setup("lanternops")
    hold_ops_flush()  # the timed renders only
    from django.conf import settings

    settings.LANTERN = {"METRICS_MAX_LABEL_SETS": max(1000, args.series + 10)}
    from django.test import RequestFactory
    from django_lantern.ops import _view

    _fill(args.series, args.hosts)

    class Staff:
        is_authenticated = is_active = is_staff = True
        pk = 1

    request: Any = RequestFactory().get("/ops/")
    request.user = Staff()
    times, cpu = [], []
    for _ in range(args.rounds + 2):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = _view.ops(request)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200 and b"/route/" in response.content
    times, cpu = times[2:], cpu[2:]  # the first renders compile the template
    result = {
        "series": args.series,
        "hosts": args.hosts,
        "rounds": args.rounds,
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        # CPU time of the process (the page's thread and its cache-read helper): what a busy machine inflates least.
        "median_cpu_ms": round(statistics.median(cpu), 1),
        "bytes": len(response.content),
        "target_ms": TARGET_MS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
