"""Concurrent async requests on a real uvicorn on 127.0.0.1: each JSON line carries its own request's id."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.helpers.servers import run_server
from tests.test_middleware_async import _check_own_ids, _incoming_id

SERVER_REQUESTS = 200


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
