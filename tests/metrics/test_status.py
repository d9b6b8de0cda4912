"""``/statusz``: what is running, for whoever may read ``/metrics``, and no one else."""

from __future__ import annotations

import os
import platform
from datetime import datetime

import django
import pytest
from django.test import Client, RequestFactory, override_settings

import django_lantern
from django_lantern import urls
from django_lantern.metrics._process_start import process_start

PUBLIC = "203.0.113.7"  # TEST-NET-3: no default network contains it
TOKEN = "s3cret-token-for-tests"
KEYS = {
    "release",
    "version",
    "commit",
    "build_time",
    "environment",
    "lantern_version",
    "python",
    "django",
    "process_start",
    "uptime_seconds",
    "pid",
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/statusz", "/statusz/"])
def test_allowed_peer_gets_the_status(client: Client, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Loopback (allowed by default) gets 200 JSON with every key, never cached, with or without the slash."""
    monkeypatch.setenv("GIT_COMMIT", "abc123")
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "staging")
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == KEYS
    assert body["release"] == body["commit"] == "abc123" and body["environment"] == "staging"
    assert body["lantern_version"] == django_lantern.__version__
    assert body["python"] == platform.python_version() and body["django"] == django.get_version()
    assert body["pid"] == os.getpid()
    started = datetime.fromisoformat(body["process_start"])
    assert body["process_start"].endswith("Z") and abs(started.timestamp() - process_start()) < 0.001
    assert body["uptime_seconds"] >= 0
    assert body["version"] is None and body["build_time"] is None  # no build-info file here


@pytest.mark.django_db
def test_nothing_known_is_null(client: Client) -> None:
    body = client.get("/statusz").json()
    assert body["release"] is None and body["commit"] is None and body["environment"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/statusz", "/statusz/"])
def test_public_peer_is_refused(client: Client, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Anyone else gets /metrics' own 403: no release, no commit, no redirect."""
    monkeypatch.setenv("GIT_COMMIT", "abc123")
    response = client.get(path, REMOTE_ADDR=PUBLIC)
    assert response.status_code == 403 and response["Cache-Control"] == "no-store"
    assert b"abc123" not in response.content and b"release" not in response.content
    forged = client.get(path, REMOTE_ADDR=PUBLIC, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forged.status_code == 403


@pytest.mark.django_db
def test_the_metrics_token_opens_it(client: Client) -> None:
    """One access rule: the bearer token that opens /metrics opens /statusz, and only it."""
    with override_settings(LANTERN={"METRICS_BEARER_TOKEN": TOKEN, "METRICS_ALLOWED_NETWORKS": []}):
        assert client.get("/statusz", REMOTE_ADDR="127.0.0.1").status_code == 403
        wrong = client.get("/statusz", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION="Bearer nope")
        served = client.get("/statusz", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert wrong.status_code == 403 and served.status_code == 200


@pytest.mark.django_db
def test_the_allowed_networks_of_metrics_apply(client: Client) -> None:
    with override_settings(LANTERN={"METRICS_ALLOWED_NETWORKS": ["203.0.113.0/24"]}):
        assert client.get("/statusz", REMOTE_ADDR=PUBLIC).status_code == 200
        assert client.get("/statusz", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_head_and_other_methods(client: Client) -> None:
    head = client.head("/statusz")
    assert head.status_code == 200 and head.content == b"" and int(head["Content-Length"]) > 0
    post = client.post("/statusz")
    assert post.status_code == 405 and post["Allow"] == "GET, HEAD" and post["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_answered_by_the_middleware_before_the_app(client: Client) -> None:
    """Like /metrics: the middleware answers, so no other middleware (or URLconf) is in the way; its route
    label is the path, and it gets no span or Sentry transaction (``http/_probes.untraced_probe``)."""
    from django_lantern.conf import get_settings
    from django_lantern.http._probes import STATUS, probe_kind, untraced_probe

    cfg = get_settings()
    assert probe_kind("/statusz", cfg) == probe_kind("/statusz/", cfg) == STATUS
    assert untraced_probe("/statusz", cfg)
    with override_settings(LANTERN={"STATUS_PATH": "/ops/status"}, ROOT_URLCONF="tests.urls_core"):
        assert client.get("/ops/status/").status_code == 200
        assert probe_kind("/statusz", get_settings()) is None


@pytest.mark.django_db
def test_the_url_pattern_serves_it_when_the_middleware_does_not(client: Client, rf: RequestFactory) -> None:
    """``STATUS_PATH: None`` turns the middleware's answer off; ``django_lantern.urls`` still serves it."""
    with override_settings(LANTERN={"STATUS_PATH": None}):
        response = client.get("/statusz/")
        assert response.status_code == 200 and "release" in response.json()
        refused = urls.statusz(rf.get("/statusz", REMOTE_ADDR=PUBLIC))
        assert refused.status_code == 403 and refused._has_been_logged  # type: ignore[attr-defined]
