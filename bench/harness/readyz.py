"""Stage 3b: ``/readyz`` latency with healthy local PostgreSQL and Redis (``python -m harness.readyz N``).

Lantern's ``/readyz`` (database and cache checks in their own threads, with
timeouts) through the WSGI and ASGI handlers, and the chapter's ``/readyz``
(``SELECT 1`` and a cache set/get in the request thread) for reference. Keys
are written under their own prefix and expire; nothing is flushed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from harness import drive
from harness.djsetup import emit, pin_to_last_cpu, protocol_stream, setup
from harness.stats import quantile, spread


def _summary(timings: list[float]) -> dict[str, Any]:
    return {**spread(timings), "p95": round(quantile(timings, 0.95), 3)}


def main(n: int) -> None:
    out = protocol_stream()
    pin_to_last_cpu()
    try:
        setup("services")
        from django.core.asgi import get_asgi_application
        from django.core.wsgi import get_wsgi_application
        from django.db import connection

        connection.ensure_connection()
    except Exception as exc:  # no PostgreSQL/Redis here: report, do not fail the run
        emit(out, {"skipped": f"{type(exc).__name__}: {str(exc)[:200]}"})
        return
    wsgi_app = get_wsgi_application()
    asgi_app = get_asgi_application()
    loop = asyncio.new_event_loop()
    results: dict[str, Any] = {"requests": n}
    for label, path in (("lantern", "/readyz"), ("chapter", "/chapter/readyz/")):
        env = drive.environ(path)
        capture = drive.Capture()
        body = drive.wsgi_once(wsgi_app, env, capture)
        if not capture.status.startswith("200"):
            results[label] = {"error": f"{capture.status}: {body[:300]!r}"}
            continue
        for _ in range(20):
            drive.wsgi_once(wsgi_app, env)
        timings = []
        for _ in range(n):
            start = time.perf_counter()
            drive.wsgi_once(wsgi_app, env)
            timings.append((time.perf_counter() - start) * 1000)
        request_scope = drive.scope(path)
        for _ in range(20):
            loop.run_until_complete(drive.asgi_once(asgi_app, request_scope))  # type: ignore[arg-type]
        atimings = []
        for _ in range(n):
            start = time.perf_counter()
            call = loop.run_until_complete(drive.asgi_once(asgi_app, request_scope))  # type: ignore[arg-type]
            atimings.append((time.perf_counter() - start) * 1000)
        results[label] = {
            "status": capture.status,
            "body": json.loads(body),
            "asgi_status": call.status,
            "wsgi_ms": _summary(timings),
            "asgi_ms": _summary(atimings),
        }
    loop.close()
    emit(out, results)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
