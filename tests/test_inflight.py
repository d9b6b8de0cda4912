"""The in-flight registry through its readers: the thread dump, the ``lantern.inflight`` lines, the watcher."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings

from django_lantern import conf
from django_lantern.gunicorn import lantern_worker_abort
from django_lantern.logging._inflight import WATCHER, report_in_flight, start_watcher
from django_lantern.metrics._threads import STACK_MAX_BYTES, dump, render
from tests import urls_inflight
from tests.conftest import LogCapture

URLS = "tests.urls_inflight"
PUBLIC = "203.0.113.7"
TOKEN = "s3cret-token-for-tests"
VIEWS = Path(urls_inflight.__file__).read_text().splitlines()
WAIT_LINE = next(i for i, line in enumerate(VIEWS, 1) if "WAIT_LINE" in line)
AWAIT_LINE = next(i for i, line in enumerate(VIEWS, 1) if "AWAIT_LINE" in line)
WAIT_FRAME = f"urls_inflight.py:{WAIT_LINE} in wait"


@pytest.fixture
def stuck() -> Iterator[dict[str, Any]]:
    """One sync request in flight (id ``stuck-1``, route ``/wait/<int:n>/``) in a thread of its own."""
    urls_inflight.entered.clear()
    urls_inflight.release.clear()
    result: dict[str, Any] = {}

    def run() -> None:
        result["response"] = Client().get("/wait/7/", HTTP_X_REQUEST_ID="stuck-1")

    with override_settings(ROOT_URLCONF=URLS):
        thread = threading.Thread(target=run, name="test-serving")
        thread.start()
        try:
            assert urls_inflight.entered.wait(5)
            result["thread"] = thread
            yield result
        finally:
            urls_inflight.release.set()
            thread.join(10)
    assert result["response"].status_code == 200


def _threads(body: dict[str, Any], request_id: str) -> list[dict[str, Any]]:
    return [t for t in body["threads"] if t["request_id"] == request_id]


@pytest.mark.django_db(transaction=True)
def test_the_dump_tags_the_serving_thread_with_its_request(stuck: dict[str, Any]) -> None:
    response = Client().get("/threadz", {"format": "json"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store" and response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    [serving] = _threads(body, "stuck-1")
    assert serving["name"] == "test-serving" and serving["ident"] == stuck["thread"].ident
    assert serving["route"] == "/wait/<int:n>/" and serving["elapsed_ms"] >= 0
    assert any(line.endswith(WAIT_FRAME) for line in serving["stack"])
    # The thread serving the dump is tagged too, with its own id; the others are not.
    assert sum(1 for t in body["threads"] if t["request_id"] is not None) == 2


@pytest.mark.django_db(transaction=True)
def test_the_text_dump_says_the_same(stuck: dict[str, Any]) -> None:
    text = Client().get("/threadz/").content.decode()
    header = next(line for line in text.splitlines() if "request_id=stuck-1" in line)
    assert header.startswith("thread test-serving ") and "route=/wait/<int:n>/" in header
    assert WAIT_FRAME in text


@pytest.mark.django_db(transaction=True)
def test_a_finished_request_leaves_the_registry(stuck: dict[str, Any]) -> None:
    urls_inflight.release.set()
    stuck["thread"].join(10)
    assert _threads(dump(), "stuck-1") == []


@pytest.mark.django_db
def test_the_dump_is_protected_as_metrics_is() -> None:
    with override_settings(ROOT_URLCONF=URLS, LANTERN={"METRICS_BEARER_TOKEN": TOKEN}):
        client = Client()
        forbidden = client.get("/threadz", REMOTE_ADDR=PUBLIC)
        assert forbidden.status_code == 403 and b"thread" not in forbidden.content
        assert forbidden["Cache-Control"] == "no-store"
        assert client.get("/threadz", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION="Bearer nope").status_code == 403
        assert client.get("/threadz", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
        assert client.post("/threadz").status_code == 405


@pytest.mark.django_db
def test_the_url_route_serves_it_when_the_middleware_does_not() -> None:
    with override_settings(ROOT_URLCONF=URLS, LANTERN={"THREADS_PATH": None}):
        assert Client().get("/threadz/", REMOTE_ADDR=PUBLIC).status_code == 403
        assert Client().get("/threadz/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_one_critical_line_per_request_in_flight(stuck: dict[str, Any], logs: LogCapture) -> None:
    assert report_in_flight("a test") == 1
    [line] = logs.by_logger("lantern.inflight")
    assert line["level"] == "critical" and line["request_id"] == "stuck-1"
    assert line["route"] == "/wait/<int:n>/" and line["path"] == "/wait/7/" and line["elapsed_ms"] >= 0
    assert WAIT_FRAME in line["stack"] and len(line["stack"].encode()) <= STACK_MAX_BYTES


@pytest.mark.django_db(transaction=True)
def test_the_abort_hook_writes_the_lines(stuck: dict[str, Any], logs: LogCapture) -> None:
    lantern_worker_abort(object())
    [line] = logs.by_logger("lantern.inflight")
    assert "worker timeout" in line["message"] and WAIT_FRAME in line["stack"]


@pytest.mark.django_db(transaction=True)
def test_the_watcher_warns_once_per_request(stuck: dict[str, Any], logs: LogCapture) -> None:
    warned = WATCHER.check(0, set())  # 0: every request in flight is past it
    WATCHER.check(0, warned)
    assert WATCHER.check(60_000, set()) == set()  # not running that long: nothing
    [line] = logs.by_logger("lantern.inflight")
    assert line["level"] == "warning" and line["request_id"] == "stuck-1" and WAIT_FRAME in line["stack"]


@pytest.mark.django_db(transaction=True)
def test_the_watcher_past_an_unkilled_timeout_writes_one_critical_line(stuck: dict[str, Any], logs: LogCapture) -> None:
    seen = WATCHER.check(0, set(), logging.CRITICAL, "the server's timeout has passed; it runs on")
    WATCHER.check(0, seen, logging.CRITICAL, "the server's timeout has passed; it runs on")
    [line] = logs.by_logger("lantern.inflight")
    assert line["level"] == "critical" and line["request_id"] == "stuck-1" and WAIT_FRAME in line["stack"]
    assert line["route"] == "/wait/<int:n>/" and line["message"].endswith("the server's timeout has passed; it runs on")


ONLY_LANTERN = ["django_lantern.middleware.LanternMiddleware"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("middleware", ["example", "async"])
@pytest.mark.parametrize(
    ("path", "frame"), [("/wait/1/", WAIT_FRAME), ("/await/1/", f":{AWAIT_LINE} in await_release")]
)
async def test_under_asgi_the_request_shows_where_its_view_is(path: str, frame: str, middleware: str) -> None:
    """A sync view: the asgiref thread that runs it; an async view: the task's coroutines. With the
    example's middleware (WhiteNoise is sync) the chain runs in a thread that waits for the async view."""
    urls_inflight.entered.clear()
    urls_inflight.release.clear()
    chain = {"MIDDLEWARE": ONLY_LANTERN} if middleware == "async" else {}
    with override_settings(ROOT_URLCONF=URLS, **chain):
        request = asyncio.ensure_future(AsyncClient().get(path, headers={"X-Request-Id": "async-1"}))
        try:
            for _ in range(500):
                if urls_inflight.entered.is_set():
                    break
                await asyncio.sleep(0.01)
            body = await asyncio.to_thread(dump)
        finally:
            urls_inflight.release.set()
            response = await request
    assert response.status_code == 200
    found = _threads(body, "async-1") + [t for t in body["tasks"] if t["request_id"] == "async-1"]
    assert len(found) == 1 and any(line.endswith(frame) for line in found[0]["stack"]), found


def test_stacks_are_scrubbed_and_capped_keeping_the_innermost_frames() -> None:
    lines = [f"/app/deep.py:{n} in level_{n}" for n in range(400)] + ["/app/x.py:1 in f password=hunter2"]
    text = render(lines)
    assert len(text.encode()) <= STACK_MAX_BYTES
    assert "hunter2" not in text and text.splitlines()[-1].startswith("/app/x.py:1 in f")
    assert text.startswith("... ") and "outer frames omitted" in text.splitlines()[0]


def test_no_watcher_thread_unless_stuck_request_ms_is_set() -> None:
    start_watcher(None)  # what start-up does with the default
    assert not any(thread.name == "lantern-stuck-requests" for thread in threading.enumerate())


def test_settings_are_validated() -> None:
    _, errors = conf.build_settings({"STUCK_REQUEST_MS": -5})
    assert any("STUCK_REQUEST_MS" in e for e in errors)
    _, errors = conf.build_settings({"THREADS_PATH": "/metrics"})
    assert any("must differ" in e and "THREADS_PATH" in e for e in errors)
    built, errors = conf.build_settings({"STUCK_REQUEST_MS": 2500})
    assert errors == [] and built.stuck_request_ms == 2500
    assert built.threads_paths == frozenset({"/threadz", "/threadz/"})
