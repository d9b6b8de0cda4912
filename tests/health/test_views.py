"""/healthz and /readyz: methods, headers, never redirected, body per docs/health.md, custom checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.test.client import AsyncClient

from django_lantern import shutdown
from django_lantern.health.checks import CheckFailed, ReadinessCheck
from tests.conftest import CORE_URLS

pytestmark = [pytest.mark.urls(CORE_URLS), pytest.mark.django_db]

PROBES = ["/healthz", "/healthz/", "/readyz", "/readyz/"]
# Every path the middleware answers: one 405 for all of them.
ANSWERED = [*PROBES, "/metrics", "/metrics/"]


# -- custom checks referenced by dotted path -----------------------------------
def passing_function() -> None:
    """A function check that passes."""


def failing_function() -> None:
    raise CheckFailed("queue backlog too large")


def crashing_function() -> None:
    raise RuntimeError("connect to db.internal:6432 password=hunter2 failed")


class PassingCheck(ReadinessCheck):
    def run(self) -> None:
        return None


class FailingCheck(ReadinessCheck):
    def run(self) -> None:
        raise CheckFailed("search index not built")


HERE = __name__


@pytest.mark.parametrize("path", PROBES)
@pytest.mark.parametrize("method", ["get", "head"])
def test_get_and_head_answer_200(client: Client, path: str, method: str) -> None:
    """Both probes answer GET and HEAD with 200, with and without the trailing slash, never cached."""
    response = getattr(client, method)(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    if method == "head":
        assert response.content == b""


@pytest.mark.parametrize("path", ANSWERED)
@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_other_methods_get_405_with_allow(client: Client, path: str, method: str) -> None:
    """Other methods get 405 with ``Allow: GET, HEAD``, no-store, and a JSON body naming the allowed methods."""
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "method not allowed", "allowed": ["GET", "HEAD"]}
    assert response.headers["Content-Length"] == str(len(response.content))


@pytest.mark.parametrize("path", PROBES)
def test_never_redirected_or_refused(client: Client, settings: Any, path: str) -> None:
    """APPEND_SLASH, SECURE_SSL_REDIRECT and a pod-IP Host outside ALLOWED_HOSTS do not affect probes."""
    settings.APPEND_SLASH = True
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["app.example.com"]
    response = client.get(path, headers={"Host": "10.1.2.3"})
    assert response.status_code == 200
    assert "Location" not in response.headers
    # The same settings do apply to ordinary pages: the probe bypass is specific.
    assert client.get("/ok/", headers={"Host": "app.example.com"}).status_code == 301


def test_healthz_body(client: Client) -> None:
    """/healthz answers ``{"status": "ok"}``."""
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_body_when_ready(client: Client) -> None:
    """/readyz keeps the chapter's keys and adds per-check detail."""
    body = client.get("/readyz/").json()
    assert body["status"] == "ready" and body["db"] == "ok" and body["cache"] == "ok"
    assert set(body["checks"]) == {"db:default", "cache:default"}
    for entry in body["checks"].values():
        assert entry["ok"] is True and isinstance(entry["ms"], float | int) and "error" not in entry


async def test_readyz_on_the_async_path(async_client: AsyncClient) -> None:
    """The async path serves the same readiness body without blocking the loop."""
    response = await async_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


@pytest.mark.parametrize(
    ("path", "name"),
    [(f"{HERE}.passing_function", "custom:passing_function"), (f"{HERE}.PassingCheck", "custom:PassingCheck")],
)
def test_custom_checks_by_dotted_path_pass(client: Client, settings: Any, path: str, name: str) -> None:
    """A function or a ReadinessCheck subclass named in READINESS_CHECKS runs and shows in the body."""
    settings.LANTERN = {"READINESS_CHECKS": [path]}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"][name] == {"ok": True, "ms": pytest.approx(response.json()["checks"][name]["ms"])}


@pytest.mark.parametrize(
    ("path", "name", "error"),
    [
        (f"{HERE}.failing_function", "custom:failing_function", "queue backlog too large"),
        (f"{HERE}.FailingCheck", "custom:FailingCheck", "search index not built"),
    ],
)
def test_check_failed_message_is_shown(client: Client, settings: Any, path: str, name: str, error: str) -> None:
    """CheckFailed's message is the public error; the probe answers 503 not_ready."""
    settings.LANTERN = {"READINESS_CHECKS": [path]}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"][name]["ok"] is False
    assert body["checks"][name]["error"] == error
    assert body["db"] == "ok"


def test_other_exception_is_reported_generically(client: Client, settings: Any) -> None:
    """Any other exception shows as "unavailable"; its text never reaches the body."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.crashing_function"]}
    response = client.get("/readyz")
    assert response.status_code == 503
    text = response.content.decode()
    assert response.json()["checks"]["custom:crashing_function"]["error"] == "unavailable"
    for leaked in ("db.internal", "6432", "hunter2", "RuntimeError", "Traceback"):
        assert leaked not in text


def test_draining_turns_readyz_503_but_not_healthz(client: Client) -> None:
    """After begin_drain(), /readyz answers 503 with draining while /healthz stays 200."""
    shutdown.begin_drain()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["draining"] is True
    assert client.get("/healthz").status_code == 200


def test_url_routes_serve_probes_when_the_middleware_does_not(client: Client, settings: Any) -> None:
    """With the middleware's probe paths off, django_lantern.urls serves both, with and without slash."""
    settings.LANTERN = {"HEALTHZ_PATH": None, "READYZ_PATH": None}
    for path in PROBES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"
    assert client.post("/readyz").status_code == 405


def test_custom_probe_paths(client: Client, settings: Any) -> None:
    """HEALTHZ_PATH and READYZ_PATH move the middleware's probes."""
    settings.LANTERN = {"HEALTHZ_PATH": "/-/live", "READYZ_PATH": "/-/ready"}
    assert client.get("/-/live").status_code == 200
    assert client.get("/-/ready/").json()["status"] == "ready"


@pytest.mark.parametrize("path", ["/healthz", "/readyz/", "/metrics"])
def test_probe_responses_state_their_length_for_get_and_head(client: Client, path: str) -> None:
    """Probes carry Content-Length (no chunked fallback); HEAD states the GET body's length with no body."""
    get = client.get(path)
    head = client.head(path)
    assert get["Content-Length"] == str(len(get.content)) and int(get["Content-Length"]) > 0
    if path == "/healthz":
        assert head["Content-Length"] == get["Content-Length"]
    else:  # timings (/readyz) and counters (/metrics) change between the two requests
        assert int(head["Content-Length"]) > 0
    assert head.content == b""
