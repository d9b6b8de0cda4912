"""Concurrent async requests each log their own request id and nobody else's:
through ``async_client`` in-process, and through a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from django.test.client import AsyncClient

from django_lantern.context import get_request_id
from tests.conftest import CORE_URLS, LogCapture
from tests.helpers.servers import run_server

ASYNC_REQUESTS = 50
SERVER_REQUESTS = 200


def _incoming_id(n: int) -> str | None:
    """Half the requests bring their own id, half get a generated one."""
    return f"in-{n:04d}-{uuid.uuid4().hex[:12]}" if n % 2 == 0 else None


def _check_own_ids(responses: dict[int, str], lines: list[dict[str, Any]], expected_per_request: int) -> None:
    """Each line with ``n`` carries exactly the id its own response got."""
    per_request: Counter[int] = Counter()
    for line in lines:
        n = line["n"]
        assert line["request_id"] == responses[n], f"request {n} logged another request's id"
        per_request[n] += 1
    assert per_request == Counter(dict.fromkeys(responses, expected_per_request))


@pytest.mark.urls(CORE_URLS)
async def test_gathered_async_requests_log_only_their_own_id(logs: LogCapture) -> None:
    """~50 concurrent async requests interleaving on one loop: every line carries its own request's id."""
    client = AsyncClient()

    async def one(n: int) -> tuple[int, str]:
        incoming = _incoming_id(n)
        headers = {"X-Request-Id": incoming} if incoming else {}
        response = await client.get("/async-echo/", {"n": n}, headers=headers)
        rid = response.headers["X-Request-Id"]
        assert response.json() == {"n": n, "request_id": rid}
        if incoming:
            assert rid == incoming
        return n, rid

    responses = dict(await asyncio.gather(*(one(n) for n in range(ASYNC_REQUESTS))))
    assert len(set(responses.values())) == ASYNC_REQUESTS
    view_lines = [p for p in logs.parsed() if p["logger"] == "tests.views"]
    _check_own_ids(responses, view_lines, expected_per_request=3)
    access = logs.by_logger("access")
    assert sorted(p["request_id"] for p in access) == sorted(responses.values())
    assert get_request_id() == "-"


@pytest.mark.server
def test_real_uvicorn_concurrent_requests_log_only_their_own_id() -> None:
    """Against a real uvicorn, 200 concurrent requests (half with incoming ids): each JSON line has its own id."""
    env = {"LANTERN_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1", "DJANGO_LOG_LEVEL": "INFO"}
    with run_server("uvicorn", env=env) as server:

        async def drive() -> dict[int, str]:
            limits = httpx.Limits(max_connections=100)
            async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:

                async def one(n: int) -> tuple[int, str]:
                    incoming = _incoming_id(n)
                    headers = {"X-Request-Id": incoming} if incoming else {}
                    response = await client.get("/async-echo/", params={"n": n}, headers=headers)
                    assert response.status_code == 200
                    rid = response.headers["X-Request-Id"]
                    assert response.json() == {"n": n, "request_id": rid}
                    if incoming:
                        assert rid == incoming
                    return n, rid

                return dict(await asyncio.gather(*(one(n) for n in range(SERVER_REQUESTS))))

        responses = asyncio.run(drive())
    output = server.output()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(set(responses.values())) == SERVER_REQUESTS
    echo_lines = [r for r in records if r.get("logger") == "example.async_echo"]
    _check_own_ids(responses, echo_lines, expected_per_request=3)
    access = [r for r in records if r.get("logger") == "access" and r.get("path") == "/async-echo/"]
    assert sorted(r["request_id"] for r in access) == sorted(responses.values())
