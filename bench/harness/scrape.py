"""Stage 3a: the cost of one ``/metrics`` scrape at about 100 and 1,000 series.

``python -m harness.scrape single|multi``; ``multi`` must be started with
``PROMETHEUS_MULTIPROC_DIR`` set (prometheus_client reads it at import). The
series are real request series, recorded through the same
``recorder.request_finished`` the middleware calls, one route template at a
time until the exposition has at least the target number of samples (the
Prometheus meaning of a series: one line of the text format). In ``multi``
mode a forked second process records the same series, as a second gunicorn
worker would, so the collector merges two sets of files.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

from harness import drive
from harness.djsetup import emit, pin_to_last_cpu, protocol_stream, setup
from harness.stats import spread

TARGETS = (100, 1000)


def _series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def _record_routes(start: int, stop: int) -> None:
    from django_lantern.metrics import _recorder as recorder

    for i in range(start, stop):
        route = f"bench/route-{i:04d}/<int:pk>/"
        recorder.request_started()
        recorder.request_finished("GET", route, 200, 0.004 + (i % 7) * 0.01, probe=False)


class SecondWorker:
    """A forked process that records what it is told, as a second gunicorn worker would (its own files)."""

    def __init__(self) -> None:
        self._to_child_r, self._to_child_w = os.pipe()
        self._to_parent_r, self._to_parent_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # child: serve requests until the pipe closes
            try:
                os.close(self._to_child_w)
                os.close(self._to_parent_r)
                with os.fdopen(self._to_child_r) as commands, os.fdopen(self._to_parent_w, "w") as acks:
                    for line in commands:
                        start, stop = (int(x) for x in line.split())
                        _record_routes(start, stop)
                        acks.write("ok\n")
                        acks.flush()
            finally:
                os._exit(0)
        os.close(self._to_child_r)
        os.close(self._to_parent_w)
        self._commands = os.fdopen(self._to_child_w, "w")
        self._acks = os.fdopen(self._to_parent_r)

    def record(self, start: int, stop: int) -> None:
        self._commands.write(f"{start} {stop}\n")
        self._commands.flush()
        if self._acks.readline().strip() != "ok":
            raise RuntimeError("the second recording process died")

    def close(self) -> None:
        self._commands.close()
        os.waitpid(self.pid, 0)


def main(mode: str, scrapes: int) -> None:
    out = protocol_stream()
    pin_to_last_cpu()
    multi = mode == "multi"
    if multi and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise SystemExit("multi mode needs PROMETHEUS_MULTIPROC_DIR")
    setup("lantern")
    from django.core.wsgi import get_wsgi_application
    from django_lantern.metrics import _views as metrics_views
    from prometheus_client import REGISTRY, generate_latest

    app = get_wsgi_application()
    env = drive.environ("/metrics", headers={"Accept": "text/plain"})
    drive.wsgi_once(app, drive.environ("/data/"))  # families exist, one real request recorded

    second = SecondWorker() if multi else None

    def scrape() -> bytes:
        return drive.wsgi_once(app, env)

    routes = 0
    results: dict[str, Any] = {"mode": mode, "processes": 2 if multi else 1, "targets": {}}
    for target in TARGETS:
        # Add route templates in small steps until the exposition reaches the target.
        while _series(scrape()) < target:
            step = max(1, (target - _series(scrape())) // 20)
            _record_routes(routes, routes + step)
            if second is not None:
                second.record(routes, routes + step)
            routes += step
        body = scrape()
        for _ in range(5):  # warm
            scrape()
        gc.collect()
        timings = []
        for _ in range(scrapes):
            start = time.perf_counter()
            scrape()
            timings.append((time.perf_counter() - start) * 1000)
        registry = metrics_views.scrape_registry() if multi else REGISTRY
        encode_only = []
        for _ in range(scrapes):
            start = time.perf_counter()
            generate_latest(registry)
            encode_only.append((time.perf_counter() - start) * 1000)
        results["targets"][str(target)] = {
            "series": _series(body),
            "route_templates": routes,
            "bytes": len(body),
            "ms": spread(timings),
            "prometheus_client_generate_latest_ms": spread(encode_only),
            "files": len(os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])) if multi else 0,
        }
    if second is not None:
        second.close()
    emit(out, results)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50)
