"""Stuck requests on real servers: the ``lantern.inflight`` line before the worker dies, and ``/threadz``.

gunicorn kills a worker whose request outlives ``--timeout`` (SIGABRT, then
SIGKILL); uvicorn cancels the requests still running when
``--timeout-graceful-shutdown`` runs out. Each time, the request's id, route,
time so far and stack must be in the output: only a real server shows that
the line gets out of the log writer's thread before the process ends.
gthread never kills a busy thread: there the stuck-request watcher, armed
with ``--timeout``, writes the line while the worker keeps serving.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.servers import EXAMPLE, Server, run_server, settings_env
from tests.server import inflight_settings, inflight_urls

pytestmark = pytest.mark.server

VIEWS = Path(inflight_urls.__file__).read_text().splitlines()
SLEEP_FRAME = "inflight_urls.py:{} in sleepy".format(next(i for i, line in enumerate(VIEWS, 1) if "SLEEP_LINE" in line))
GUNICORN = ["-c", str(EXAMPLE / "gunicorn.conf.py"), "--workers", "1", "--timeout", "2"]


def _env(tmp_path: Path) -> dict[str, str]:
    return settings_env(tmp_path, "tests.server.inflight_settings")


def _send(server: Server, path: str, request_id: str) -> threading.Thread:
    """The stuck request, from a thread: the server never answers it (it dies or gives up first)."""

    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(server.url + path, headers={"X-Request-Id": request_id}, timeout=20)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _inflight_lines(server: Server, level: str, wait: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait
    while True:
        lines = [ln for ln in server.json_lines() if ln.get("logger") == "lantern.inflight" and ln["level"] == level]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def _assert_the_line(lines: list[dict[str, Any]], request_id: str, route: str, frame: str) -> None:
    assert len(lines) == 1, lines
    [line] = lines
    assert line["request_id"] == request_id and line["route"] == route
    assert line["elapsed_ms"] >= 2000
    assert frame in line["stack"] and len(line["stack"].encode()) <= 4096
    if frame == SLEEP_FRAME:  # time.sleep has no frame: the view's is the innermost, nothing of lantern's above it
        assert line["stack"].splitlines()[-1].endswith(SLEEP_FRAME), line["stack"]


def test_gunicorn_sync_worker_timeout_writes_the_stuck_request(tmp_path: Path) -> None:
    with run_server("gunicorn", args=[*GUNICORN, "--worker-class", "sync"], env=_env(tmp_path)) as server:
        sender = _send(server, "/stuck/3/", "stuck-sync")
        lines = _inflight_lines(server, "critical")
        sender.join(20)
    _assert_the_line(lines, "stuck-sync", "/stuck/<int:n>/", SLEEP_FRAME)
    assert "worker timeout" in lines[0]["message"]
    assert "WORKER TIMEOUT" in server.output()  # the arbiter's own line: it was the timeout that killed it


def test_gthread_timeout_writes_the_stuck_request_and_keeps_serving(tmp_path: Path) -> None:
    """gthread's main loop tells the arbiter it is alive while a thread sleeps, so nothing kills the
    worker: the watcher armed with --timeout writes the line, once, and the other threads keep serving."""
    args = [*GUNICORN, "--worker-class", "gthread", "--threads", "4"]
    with run_server("gunicorn", args=args, env=_env(tmp_path), stop_timeout=2) as server:
        sender = _send(server, "/stuck/3/", "stuck-gthread")
        time.sleep(0.5)  # the request is in the view
        served = [httpx.get(server.url + "/healthz", timeout=5).status_code]
        lines = _inflight_lines(server, "critical")
        time.sleep(1.0)  # several more rounds of the watcher: still one line
        served.append(httpx.get(server.url + "/healthz", timeout=5).status_code)
        lines = _inflight_lines(server, "critical")
    sender.join(1)
    _assert_the_line(lines, "stuck-gthread", "/stuck/<int:n>/", SLEEP_FRAME)
    assert "worker timeout" in lines[0]["message"] and "does not kill" in lines[0]["message"]
    assert served == [200, 200] and "WORKER TIMEOUT" not in server.output()


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_gunicorn_graceful_timeout_writes_the_stuck_request(tmp_path: Path, worker_class: str) -> None:
    """SIGTERM with a request that outlives --graceful-timeout: its line comes before the arbiter's SIGKILL."""
    args = [*GUNICORN, "--worker-class", worker_class, "--threads", "4", "--timeout", "30", "--graceful-timeout", "2"]
    with run_server("gunicorn", args=args, env=_env(tmp_path)) as server:
        sender = _send(server, "/stuck/3/", f"stopping-{worker_class}")
        time.sleep(1.0)  # the request is in the view
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(15)
        sender.join(20)
    lines = [ln for ln in server.json_lines() if ln.get("logger") == "lantern.inflight"]
    _assert_the_line(lines, f"stopping-{worker_class}", "/stuck/<int:n>/", SLEEP_FRAME)
    assert lines[0]["level"] == "critical" and "graceful timeout" in lines[0]["message"]


ASLEEP_FRAME = "inflight_urls.py:{} in asleepy".format(next(i for i, ln in enumerate(VIEWS, 1) if "ASLEEP_LINE" in ln))


@pytest.mark.parametrize(("path", "frame"), [("/stuck/4/", SLEEP_FRAME), ("/astuck/4/", ASLEEP_FRAME)])
def test_uvicorn_graceful_shutdown_overrun_writes_the_stuck_request(tmp_path: Path, path: str, frame: str) -> None:
    """SIGTERM with a request that outlives --timeout-graceful-shutdown: uvicorn says it gives up and
    cancels the request; its line comes first, with the view's frame (a sync view's thread, an async view's task)."""
    args = ["--timeout-graceful-shutdown", "2"]
    with run_server("uvicorn", args=args, env=_env(tmp_path)) as server:
        sender = _send(server, path, "stopping-uvicorn")
        time.sleep(1.0)  # the request is in the view
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(15)  # a sync view's thread cannot be cancelled: the process waits for it
        sender.join(20)
    lines = [ln for ln in server.json_lines() if ln.get("logger") == "lantern.inflight"]
    _assert_the_line(lines, "stopping-uvicorn", path.replace("4", "<int:n>"), frame)
    assert lines[0]["level"] == "critical" and "graceful shutdown" in lines[0]["message"]
    assert "timeout graceful shutdown exceeded" in server.output()


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_the_thread_dump_is_protected_and_names_the_serving_thread(tmp_path: Path, kind: str) -> None:
    args = [*GUNICORN, "--worker-class", "gthread", "--threads", "4"] if kind == "gunicorn" else []
    with run_server(kind, args=args, env=_env(tmp_path), stop_timeout=2) as server:
        sender = _send(server, "/stuck/5/", f"dumped-{kind}")
        time.sleep(1.0)  # the request is in the view
        refused = httpx.get(server.url + "/threadz", timeout=5)
        auth = {"Authorization": f"Bearer {inflight_settings.TOKEN}"}
        text = httpx.get(server.url + "/threadz", headers=auth, timeout=5)
        body = httpx.get(server.url + "/threadz?format=json", headers=auth, timeout=5)
    sender.join(1)
    assert refused.status_code == 403 and "sleepy" not in refused.text
    assert refused.headers["cache-control"] == "no-store"
    assert text.status_code == 200 and text.headers["cache-control"] == "no-store"
    assert f"request_id=dumped-{kind} route=/stuck/<int:n>/" in text.text and SLEEP_FRAME in text.text
    serving = [t for t in body.json()["threads"] if t["request_id"] == f"dumped-{kind}"]
    assert len(serving) == 1 and serving[0]["route"] == "/stuck/<int:n>/" and serving[0]["elapsed_ms"] >= 900
    assert any(line.endswith(SLEEP_FRAME) for line in serving[0]["stack"])


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_stuck_request_ms_warns_once_with_the_stack(tmp_path: Path, kind: str) -> None:
    args = [*GUNICORN, "--worker-class", "gthread", "--threads", "4"] if kind == "gunicorn" else []
    env = {**_env(tmp_path), "INFLIGHT_TEST_STUCK_MS": "500"}
    with run_server(kind, args=args, env=env, stop_timeout=2) as server:
        sender = _send(server, "/stuck/6/", f"slow-{kind}")
        lines = _inflight_lines(server, "warning")
        time.sleep(1.5)  # several more rounds of the watcher: still one line
        lines = _inflight_lines(server, "warning")
        # gthread: --timeout 2 arms the same watcher, one CRITICAL past it beside the WARNING past 500 ms
        critical = _inflight_lines(server, "critical", wait=15.0 if kind == "gunicorn" else 0.0)
        if critical:
            time.sleep(1.0)  # several more rounds of the watcher: still one line of each
            critical = _inflight_lines(server, "critical")
            lines = _inflight_lines(server, "warning")
    sender.join(1)
    assert len(lines) == 1, lines
    assert lines[0]["request_id"] == f"slow-{kind}" and lines[0]["route"] == "/stuck/<int:n>/"
    assert lines[0]["elapsed_ms"] >= 500 and SLEEP_FRAME in lines[0]["stack"]
    if kind == "gunicorn":
        _assert_the_line(critical, f"slow-{kind}", "/stuck/<int:n>/", SLEEP_FRAME)
    else:  # uvicorn has no --timeout: no CRITICAL line while it runs
        assert critical == []
