"""Streaming bodies on real servers: gunicorn (gthread) and uvicorn.

The test client consumes a streaming body before the test sees the response,
which hides that a real server iterates it after the middleware returned.
Here the access line must still come once, at the end of the stream (its
duration covering the chunks), and a generator that raises midway must be an
ERROR with status 500 in the log and a 5xx in /metrics, never a 200 at INFO.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.servers import Server, run_server, settings_env
from tests.metrics.conftest import parse
from tests.server.streaming_urls import CHUNKS, DELAY

pytestmark = pytest.mark.server

SERVERS = {
    "gunicorn-gthread": ("gunicorn", ["--worker-class", "gthread", "--threads", "4", "--workers", "1"]),
    "uvicorn": ("uvicorn", []),
}


def _env(tmp_path: Path) -> dict[str, str]:
    return settings_env(tmp_path, "tests.server.streaming_settings")


def _fetch(server: Server, path: str) -> bytes:
    body = b""
    with httpx.Client(base_url=server.url, timeout=10) as client, client.stream("GET", path) as response:
        assert response.status_code == 200  # the status line went out before the body failed
        with contextlib.suppress(httpx.HTTPError):  # a failing body ends the connection early
            for chunk in response.iter_bytes():
                body += chunk
    return body


def _access_lines(server: Server, path: str, expected: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln for ln in server.json_lines() if ln.get("logger") == "access" and ln.get("path") == path]
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def _assert_strict_json_lines(server: Server) -> None:
    """Every record the server wrote is strict UTF-8 JSON (the output is read as bytes, not repaired)."""
    for raw in server.log_path.read_bytes().splitlines():
        if raw.startswith(b"{"):
            json.loads(raw.decode("utf-8", "strict"))


def _requests(server: Server, route: str) -> dict[str, float]:
    scrape = httpx.get(server.url + "/metrics", timeout=10).text
    return {
        labels["status_code"]: value
        for labels, value in parse(scrape).get("http_server_requests_total", [])
        if labels["route"] == route
    }


@pytest.fixture(scope="module", params=list(SERVERS), ids=list(SERVERS))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    kind, args = SERVERS[request.param]
    with run_server(kind, args=args, env=_env(tmp_path_factory.mktemp(request.param))) as running:
        yield running


def _prefixes(server: Server) -> list[str]:
    # Async generators under WSGI are not what anyone deploys: gunicorn gets the sync views.
    return ["stream"] if "gunicorn" in server.process.args[0] else ["stream", "astream"]


def test_stream_access_line_comes_once_at_the_end(server: Server) -> None:
    """One INFO access line per streamed response, after the last chunk, with the streaming in its duration."""
    for prefix in _prefixes(server):
        path = f"/{prefix}/slow/"
        assert _fetch(server, path) == b"".join(f"chunk {i}\n".encode() for i in range(CHUNKS))
        (line,) = _access_lines(server, path)
        assert line["level"] == "info" and line["status"] == 200
        assert line["duration_ms"] >= CHUNKS * DELAY * 1000
        lines = server.json_lines()
        chunk_at = [i for i, ln in enumerate(lines) if ln.get("message") == "slow chunk" and ln["path"] == path]
        assert {lines[i]["request_id"] for i in chunk_at} == {line["request_id"]} and len(chunk_at) == CHUNKS
        # Every chunk was logged before the access line: it was written at the end of the stream.
        assert max(chunk_at) < lines.index(line)
        assert _requests(server, path) == {"200": 1.0}
    _assert_strict_json_lines(server)


def test_stream_that_raises_is_an_error_and_a_5xx(server: Server) -> None:
    """A generator raising midway: one ERROR access line with status 500 and outcome failed; /metrics counts a 500."""
    for prefix in _prefixes(server):
        path = f"/{prefix}/fail/"
        # uvicorn runs a sync generator to its end before sending (Django's ASGI handler
        # collects it in a thread), so there the client may get no body at all.
        assert _fetch(server, path) in (b"", b"first\n")
        lines = _access_lines(server, path)
        assert len(lines) == 1, lines
        (line,) = lines
        assert line["level"] == "error" and line["status"] == 500 and line["outcome"] == "failed"
        assert line["exc_type"] == "RuntimeError"
        assert line["duration_ms"] >= DELAY * 1000
        assert _requests(server, path) == {"500": 1.0}
    _assert_strict_json_lines(server)
