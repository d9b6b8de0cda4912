"""One configuration in its own process, timing batches on command (``python -m harness.worker CONFIG``).

Reads JSON commands on stdin, answers JSON on its own stdout; idle between
commands, so workers for every configuration can stay warm while the runner
interleaves rounds across them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

from harness import drive
from harness.djsetup import emit, pin_to_last_cpu, protocol_stream, setup

CHECK_REQUESTS = 200


def _log_bytes(config: str) -> int:
    from django.conf import settings

    total = 0
    for handler in settings.LOGGING.get("handlers", {}).values():
        filename = handler.get("filename")
        if filename and Path(filename).exists():
            total += Path(filename).stat().st_size
    return total


def _last_log_line(config: str) -> str:
    from django.conf import settings

    for handler in settings.LOGGING.get("handlers", {}).values():
        filename = handler.get("filename")
        if filename and Path(filename).exists():
            lines = Path(filename).read_text(errors="replace").splitlines()
            if lines:
                return lines[-1][:600]
    return ""


def main(config: str) -> None:
    out = protocol_stream()
    pin_to_last_cpu()
    from benchproj.hooks import Unavailable

    try:
        setup(config)
    except Unavailable as exc:
        emit(out, {"unavailable": str(exc)})
        return
    from django.core.asgi import get_asgi_application
    from django.core.wsgi import get_wsgi_application

    wsgi_app = get_wsgi_application()
    asgi_app = get_asgi_application()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    env = drive.environ("/data/")
    request_scope = drive.scope("/data/")

    # Sanity: the view answers 200 through both handlers, and each layer leaves its mark.
    capture = drive.Capture()
    body = drive.wsgi_once(wsgi_app, env, capture)
    call = loop.run_until_complete(drive.asgi_once(asgi_app, request_scope))  # type: ignore[arg-type]
    from django.conf import settings

    from benchproj.otel import exported

    before, spans_before = _log_bytes(config), exported[0]
    drive.wsgi_batch(wsgi_app, itertools.repeat(env), CHECK_REQUESTS)  # type: ignore[arg-type]
    log_per_request = (_log_bytes(config) - before) / CHECK_REQUESTS
    spans_per_request = (exported[0] - spans_before) / CHECK_REQUESTS
    emit(
        out,
        {
            "ready": True,
            "pid": os.getpid(),
            "wsgi_status": capture.status,
            "asgi_status": call.status,
            "body_ok": body == call.body and b'"id": 42' in body,
            "response_headers": sorted(name for name, _ in capture.headers),
            "middleware": list(settings.MIDDLEWARE),
            "spans_per_request": spans_per_request,
            "log_bytes_per_request": round(log_per_request, 1),
            "log_sample": _last_log_line(config),
        },
    )
    for line in sys.stdin:
        command: dict[str, Any] = json.loads(line)
        op = command["op"]
        n = int(command.get("n", 1000))
        if op == "wsgi":
            seconds = drive.wsgi_batch(wsgi_app, itertools.repeat(env), n)  # type: ignore[arg-type]
        elif op == "asgi":
            seconds = drive.asgi_batch(loop, asgi_app, itertools.repeat(request_scope), n)  # type: ignore[arg-type]
        elif op == "quit":
            break
        else:
            raise SystemExit(f"unknown op {op!r}")
        emit(out, {"op": op, "n": n, "us_per_request": seconds / n * 1e6})
    loop.close()


if __name__ == "__main__":
    main(sys.argv[1])
