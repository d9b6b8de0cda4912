"""X-Forwarded-For from 127.0.0.1 under a real uvicorn: it opens nothing and is no client_ip.

uvicorn's proxy headers are on by default for peers in --forwarded-allow-ips
(127.0.0.1 and ::1), and replace the scope's client with the header's hop
before Django runs. The documented command line turns them off; with
uvicorn's defaults lantern sees the rewrite, treats the peer as unknown and
says so once.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest

from tests.helpers.servers import ROOT, Server, run_server

pytestmark = pytest.mark.server

SPOOF = "10.1.2.3"  # inside METRICS_ALLOWED_NETWORKS and REQUEST_ID_TRUSTED_NETWORKS
CHOSEN_ID = "id-chosen-by-the-client-7"
COMMAND_LINES = {"documented": ["--no-proxy-headers"], "uvicorn-defaults": []}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "tests.server.forwarded_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "LANTERN_LOG_FORMAT": "json",
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }


def _access_line(server: Server, request_id: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for line in server.json_lines():
            if line.get("logger") == "access" and line.get("request_id") == request_id:
                return line
        if time.monotonic() > deadline:
            pytest.fail(f"no access line for {request_id}:\n{server.output()[-3000:]}")
        time.sleep(0.05)


@pytest.mark.parametrize("command_line", COMMAND_LINES)
def test_forwarded_for_from_loopback_opens_no_metrics(command_line: str) -> None:
    """The issue's case: 403, the client's id refused, client_ip not 10.1.2.3 (the socket's
    127.0.0.1 with --no-proxy-headers, null under uvicorn's defaults, with one WARNING)."""
    headers = {"X-Forwarded-For": SPOOF, "X-Request-Id": CHOSEN_ID}
    with run_server("uvicorn", args=COMMAND_LINES[command_line], env=_env()) as server:
        responses = [httpx.get(server.url + "/metrics", headers=headers, timeout=10) for _ in range(3)]
        for response in responses:
            assert response.status_code == 403 and "http_server_requests" not in response.text
            assert response.headers["X-Request-Id"] != CHOSEN_ID
        lines = [_access_line(server, r.headers["X-Request-Id"]) for r in responses]
    assert {line["client_ip"] for line in lines} == ({"127.0.0.1"} if command_line == "documented" else {None})
    warnings = [ln for ln in server.json_lines() if "replaced the client address" in ln.get("message", "")]
    assert len(warnings) == (0 if command_line == "documented" else 1), warnings
    if warnings:
        assert warnings[0]["level"] == "warning" and "--no-proxy-headers" in warnings[0]["message"]
