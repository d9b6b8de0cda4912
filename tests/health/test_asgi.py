"""``LanternASGIHandler``: probes answered on the event loop, everything else by Django's handler."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from django.test import override_settings

from django_lantern.health.asgi import LanternASGIHandler

PROBES = 30


def slow_check() -> None:
    """Keeps every probe of a run waiting, so that they are all in flight at once."""
    time.sleep(0.3)


SETTINGS = {
    "READINESS_DATABASES": [],
    "READINESS_CACHES": [],
    "READINESS_CHECKS": ["tests.health.test_asgi.slow_check"],
    "READINESS_TIMEOUT": 2.0,
}


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }


async def _call(handler: LanternASGIHandler, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays connected until the handler is done
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await handler(_scope(path), receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.mark.django_db
async def test_concurrent_probes_hold_no_thread_each() -> None:
    """30 probes in flight at once add no thread per probe (Django's handler adds one per request)."""
    with override_settings(LANTERN=SETTINGS):
        handler = LanternASGIHandler()
        before = threading.active_count()
        peak = before
        stop = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, threading.active_count())
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        results = await asyncio.gather(*(_call(handler, "/readyz") for _ in range(PROBES)))
        stop.set()
        await sampler
    assert {status for status, _ in results} == {200}
    assert json.loads(results[0][1])["checks"]["custom:slow_check"]["ok"] is True
    # The check's own worker thread, and at most a couple of the server's capped pools.
    assert peak - before <= 3, f"{peak - before} threads added by {PROBES} probes"


@pytest.mark.django_db
async def test_other_paths_go_through_django() -> None:
    """A path that is not a probe is served by Django's handler (URL resolution, 404 for an unknown path)."""
    handler = LanternASGIHandler()
    status, _ = await _call(handler, "/healthz")
    assert status == 200
    status, _ = await _call(handler, "/no-such-page/")
    assert status == 404


def test_lifespan_is_answered_and_shutdown_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lifespan scope (uvicorn offers it by default) is answered, not refused, and its
    shutdown runs the exit flush before saying complete."""
    from django_lantern import shutdown

    flushed: list[float] = []
    monkeypatch.setattr(shutdown, "flush", lambda timeout=2.0: flushed.append(timeout) or {"tracing": 0})
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"] + (" after the flush" if flushed else ""))

    asyncio.run(LanternASGIHandler()({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete after the flush"]
