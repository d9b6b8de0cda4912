"""The peer the socket saw: under ASGI, never an address the server took from the forwarded headers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings

from django_lantern.http import _networks
from django_lantern.http._networks import REWRITTEN_PEER_WARNING, peer
from tests.conftest import CORE_URLS, LogCapture

ASGI: dict[str, Any] = {"REQUEST_METHOD": "GET", "wsgi.multithread": True}  # Django's ASGI META has no wsgi.input
WSGI: dict[str, Any] = {"REQUEST_METHOD": "GET", "wsgi.input": object()}


@pytest.fixture(autouse=True)
def _warn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_networks, "_warned", False)


@pytest.mark.parametrize(
    ("remote", "headers"),
    [
        ("10.1.2.3", {"HTTP_X_FORWARDED_FOR": "10.1.2.3"}),  # uvicorn, peer 127.0.0.1 trusted by default
        ("198.51.100.7", {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7"}),  # the nearest untrusted hop
        ("10.1.2.3", {"HTTP_X_FORWARDED_FOR": "10.9.9.9,10.1.2.3:4711"}),  # uvicorn drops the port
        ("10.1.2.3", {"HTTP_X_FORWARDED_FOR": "10.1.2.3, 127.0.0.1"}),  # every hop trusted: the first
        ("2001:db8::1", {"HTTP_X_FORWARDED_FOR": "[2001:db8::1]:80"}),
        ("10.1.2.3", {"HTTP_FORWARDED": 'for="10.1.2.3:80";proto=https'}),  # hypercorn's modern mode
    ],
)
def test_an_asgi_peer_named_by_the_forwarded_headers_is_unknown(remote: str, headers: dict[str, str]) -> None:
    assert peer({**ASGI, "REMOTE_ADDR": remote, **headers}) is None


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({**ASGI, "REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "10.1.2.3"}, "127.0.0.1"),  # --no-proxy-headers
        ({**ASGI, "REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "10.1.2.30, 110.1.2.3"}, "10.1.2.3"),
        ({**ASGI, "REMOTE_ADDR": "10.1.2.3"}, "10.1.2.3"),
        # WSGI servers pass the socket's peer: a header that repeats it changes nothing.
        ({**WSGI, "REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "10.1.2.3"}, "10.1.2.3"),
    ],
)
def test_other_peers_are_kept(meta: dict[str, Any], expected: str) -> None:
    found = peer(meta)
    assert found is not None and found.text == expected


def _asgi_get(path: str, remote: str, forwarded_for: str, **headers: str) -> Any:
    from asgiref.sync import async_to_sync

    sent = {"X-Forwarded-For": forwarded_for, **headers} if forwarded_for else headers
    scope = {
        "method": "GET",
        "path": path,
        "query_string": "",
        "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in sent.items())],
        "client": [remote, 0],  # as the server set it
    }
    return async_to_sync(AsyncClient().request)(**scope)


@pytest.mark.django_db
@pytest.mark.urls(CORE_URLS)
def test_a_rewritten_peer_opens_no_door_and_is_no_client_ip(logs: LogCapture, caplog: pytest.LogCaptureFixture) -> None:
    """The issue's case as uvicorn hands it to Django: scope client 10.1.2.3 taken from
    X-Forwarded-For. /metrics limited to 10.0.0.0/8 answers 403, a request id is not believed
    from the trusted network, client_ip is null, and one WARNING names the server setting."""
    lantern = {"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"], "REQUEST_ID_TRUSTED_NETWORKS": ["10.0.0.0/8"]}
    with override_settings(LANTERN=lantern), caplog.at_level(logging.WARNING, "django_lantern"):
        assert _asgi_get("/metrics", "10.1.2.3", "10.1.2.3").status_code == 403
        response = _asgi_get("/ok/", "10.1.2.3", "10.1.2.3", **{"X-Request-Id": "proxy-chosen-id-1"})
        assert response.status_code == 200 and response["X-Request-Id"] != "proxy-chosen-id-1"
        assert logs.by_logger("access")[-1]["client_ip"] is None
        # The same peer with no forwarded header is the socket's, and admitted.
        assert _asgi_get("/metrics", "10.1.2.3", "").status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "django_lantern"]
    assert warnings == [REWRITTEN_PEER_WARNING]
    assert "--no-proxy-headers" in REWRITTEN_PEER_WARNING


@pytest.mark.django_db
def test_wsgi_metrics_access_is_unchanged(client: Client) -> None:
    with override_settings(LANTERN={"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"]}):
        assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
