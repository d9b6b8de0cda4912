"""A password-reset link on a real gunicorn and uvicorn: the access line and every line after URL
resolution show ``/accounts/reset/[redacted]/[redacted]/``, and the token is in no line."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.servers import run_server

# An undecodable uidb64: the view finds no user without asking the database,
# and answers with its "invalid link" page.
UIDB64 = "zzzz"
TOKEN = "dj6xgu-8978b63dd660a0cfd1fcf2fb958736f9"


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_reset_link_is_redacted_in_the_servers_lines(kind: str) -> None:
    env = {"LANTERN_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1", "DJANGO_LOG_LEVEL": "INFO"}
    with run_server(kind, env=env) as server:
        response = httpx.get(f"{server.url}/accounts/reset/{UIDB64}/{TOKEN}/", timeout=30)
        assert response.status_code == 200
        rid = response.headers["X-Request-Id"]
    lines = [line for line in server.json_lines() if line.get("request_id") == rid]
    (access,) = [line for line in lines if line["logger"] == "access"]
    assert access["path"] == "/accounts/reset/[redacted]/[redacted]/"
    assert "/accounts/reset/[redacted]/[redacted]/" in access["message"]
    output = server.output()
    assert TOKEN not in output and f"/{UIDB64}/" not in output
