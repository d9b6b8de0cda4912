"""Graceful shutdown under gunicorn: drain on SIGTERM, finish in-flight requests, flush events and spans."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.system import support
from tests.system.recorder import Recorder

DRAIN = 3.0  # LANTERN["SHUTDOWN_DRAIN_SECONDS"] for this run
SLOW = 4.0  # a request in flight when SIGTERM arrives, longer than the drain
MARGIN = 1.0  # scheduling slack; upper bounds only
EXIT_BUDGET = DRAIN + SLOW + 10.0  # drain, then the in-flight request, then the flush


@pytest.mark.system
def test_sigterm_drains_then_stops_and_flushes(env: dict[str, str]) -> None:
    """SIGTERM: /readyz 503 while /healthz stays 200 and requests are still served for the drain period;
    the in-flight request finishes; pending error events and spans reach their endpoints before exit."""
    with Recorder() as recorder:
        env = {
            **env,
            "LANTERN_SYSTEM_DRAIN": str(DRAIN),
            "LANTERN_SYSTEM_SENTRY_DSN": f"http://public@127.0.0.1:{recorder.port}/1",
            "LANTERN_SYSTEM_OTLP": f"http://127.0.0.1:{recorder.port}/v1/traces",
        }
        args = support.gunicorn_args(workers=1, threads=4)
        with support.serve("gunicorn", env, args=args) as server:
            assert httpx.get(server.url + "/readyz", timeout=5).status_code == 200
            assert httpx.get(server.url + "/_system/error/1/", timeout=10).status_code == 500
            assert not recorder.matching("/v1/traces"), "spans left before any flush: the test proves nothing"

            slow: dict[str, int] = {}

            def in_flight() -> None:
                slow["status"] = httpx.get(f"{server.url}/_system/log/2/?sleep={SLOW}", timeout=30).status_code

            worker = threading.Thread(target=in_flight)
            worker.start()
            time.sleep(0.5)  # the slow request is being served
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)

            readyz: list[tuple[float, int, bool]] = []
            healthz: list[int] = []
            served: list[int] = []
            with httpx.Client(base_url=server.url, timeout=5) as client:
                while time.monotonic() - signalled < DRAIN - MARGIN:  # bounded by the drain period
                    response = client.get("/readyz")
                    readyz.append(
                        (time.monotonic() - signalled, response.status_code, response.json().get("draining", False))
                    )
                    healthz.append(client.get("/healthz").status_code)
                    served.append(client.get(f"/_system/log/{len(served) + 10}/").status_code)
                    time.sleep(0.2)
            worker.join(timeout=SLOW + 20)
            server.process.wait(timeout=EXIT_BUDGET + 10)
            exited = time.monotonic()
            output = server.output()

    first_503 = next(at for at, status, _ in readyz if status == 503)
    assert first_503 <= MARGIN, f"/readyz still 200 {first_503:.2f}s after SIGTERM"
    assert all(status == 503 and draining for at, status, draining in readyz if at >= first_503), readyz
    assert set(healthz) == {200}, healthz
    assert set(served) == {200}, "requests arriving during the drain are still served"
    assert slow.get("status") == 200, "the request in flight at SIGTERM finished"
    assert exited - signalled <= EXIT_BUDGET
    envelopes = recorder.matching("/envelope/")
    spans = recorder.matching("/v1/traces")
    assert envelopes, "the error event was not delivered"
    assert spans, "the pending span was not flushed before exit"
    assert all(r.at <= exited for r in envelopes + spans)
    assert "lantern: draining for 3.0s" in output
    assert "lantern: exit flush (2.0s): sentry 0 still pending" in output
    print(
        f"\n[system] SIGTERM: readyz 503 after {first_503 * 1000:.0f} ms, {len(readyz)} probes during the drain "
        f"(healthz all 200, {len(served)} requests served), in-flight {SLOW}s request 200, exit "
        f"{exited - signalled:.1f}s after SIGTERM, {len(envelopes)} Sentry envelope(s), {len(spans)} OTLP export(s)"
    )


def _span_names(bodies: list[bytes]) -> list[str]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    names = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                names.extend(span.name for span in scope.spans)
    return names


@pytest.mark.system
def test_sigterm_under_uvicorn_flushes_spans_and_events(env: dict[str, str]) -> None:
    """uvicorn has no worker_exit hook: the ASGI handler's lifespan shutdown flushes instead, so the
    span of a request served just before SIGTERM (held back by a 10-minute batch delay, the SDK's own
    exit hook off) and its error event reach their endpoints before the process ends."""
    with Recorder() as recorder:
        env = {
            **env,
            "LANTERN_SYSTEM_SENTRY_DSN": f"http://public@127.0.0.1:{recorder.port}/1",
            "LANTERN_SYSTEM_OTLP": f"http://127.0.0.1:{recorder.port}/v1/traces",
        }
        with support.serve("uvicorn", env) as server:
            assert httpx.get(server.url + "/_system/log/7/", timeout=10).status_code == 200
            assert httpx.get(server.url + "/_system/error/1/", timeout=10).status_code == 500
            assert not recorder.matching("/v1/traces"), "spans left before any flush: the test proves nothing"
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=EXIT_BUDGET)
            exited = time.monotonic()
        spans = recorder.matching("/v1/traces")
        envelopes = recorder.matching("/envelope/")
    names = _span_names([r.body for r in spans])
    assert any("_system/log/" in name for name in names), names
    assert any("_system/error/" in name for name in names), names
    assert envelopes, "the error event was not delivered"
    assert all(r.at <= exited for r in envelopes + spans)
    assert "lantern: exit flush (2.0s): sentry 0 still pending, tracing 0 still pending" in server.output()
    print(
        f"\n[system] uvicorn SIGTERM: exit {exited - signalled:.2f}s after SIGTERM, {len(names)} span(s) in "
        f"{len(spans)} OTLP export(s), {len(envelopes)} Sentry envelope(s)"
    )
