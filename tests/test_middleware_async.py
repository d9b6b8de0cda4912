"""Concurrent async requests each log their own request id and nobody else's, through ``async_client``
in-process (tests/server/test_middleware_async.py does the same on a real uvicorn)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from django.test.client import AsyncClient

from django_lantern.context import get_request_id
from tests.conftest import CORE_URLS, LogCapture

ASYNC_REQUESTS = 50


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
