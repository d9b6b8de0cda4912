"""REQUEST_ID_FALLBACK_HEADERS: ids read from alternative headers, same validation and trust."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from django_lantern import request_id
from django_lantern.conf import build_settings
from django_lantern.middleware import LanternMiddleware


def _serve(lantern: dict[str, Any], **meta: Any) -> tuple[str, HttpResponse]:
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.request_id)  # type: ignore[attr-defined]
        return HttpResponse("ok")

    with override_settings(LANTERN=lantern):
        response = LanternMiddleware(view)(RequestFactory().get("/", **meta))
    return seen[0], response


FALLBACK = {"REQUEST_ID_FALLBACK_HEADERS": ["X-Correlation-ID", "Correlation-ID"]}


def test_fallback_header_is_used_when_the_main_one_is_absent() -> None:
    """A valid X-Correlation-ID becomes the request id and is echoed under X-Request-Id."""
    rid, response = _serve(FALLBACK, HTTP_X_CORRELATION_ID="guid-123")
    assert rid == "guid-123"
    assert response["X-Request-Id"] == "guid-123"


def test_fallbacks_are_read_in_order_and_the_main_header_wins() -> None:
    """X-Request-Id beats every fallback; among fallbacks the first listed wins."""
    rid, _ = _serve(FALLBACK, HTTP_X_REQUEST_ID="main-1", HTTP_X_CORRELATION_ID="guid-1")
    assert rid == "main-1"
    rid, _ = _serve(FALLBACK, HTTP_CORRELATION_ID="second", HTTP_X_CORRELATION_ID="first")
    assert rid == "first"
    rid, _ = _serve(FALLBACK, HTTP_CORRELATION_ID="second")
    assert rid == "second"


def test_fallback_headers_are_ignored_unless_configured() -> None:
    """Without the setting an X-Correlation-ID is not read."""
    rid, _ = _serve({}, HTTP_X_CORRELATION_ID="guid-123")
    assert rid != "guid-123" and request_id.is_valid(rid)


def test_invalid_fallback_value_is_replaced_with_the_usual_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A hostile fallback value is replaced and warned about by length only, like the main header."""
    hostile = 'x" forged=1\r\nnext'
    with caplog.at_level(logging.WARNING, logger="django_lantern.request_id"):
        rid, _ = _serve(FALLBACK, HTTP_X_CORRELATION_ID=hostile)
    assert rid != hostile and request_id.is_valid(rid) and len(rid) == 32
    warnings = [r.getMessage() for r in caplog.records if r.name == "django_lantern.request_id"]
    assert warnings == [request_id.REJECTED_MESSAGE % (len(hostile), request_id.HEADER)]
    assert "forged" not in warnings[0]


@pytest.mark.parametrize(("peer", "kept"), [("10.1.2.3", True), ("203.0.113.7", False)])
def test_fallback_obeys_trusted_networks(peer: str, kept: bool) -> None:
    """REQUEST_ID_TRUSTED_NETWORKS applies to fallback headers too."""
    lantern = {**FALLBACK, "REQUEST_ID_TRUSTED_NETWORKS": ["10.0.0.0/8"]}
    rid, _ = _serve(lantern, HTTP_X_CORRELATION_ID="proxy-guid", REMOTE_ADDR=peer)
    assert (rid == "proxy-guid") is kept


def test_fallback_obeys_trust_switch() -> None:
    """With TRUST_REQUEST_ID_HEADER off no header is read, fallbacks included."""
    rid, _ = _serve({**FALLBACK, "TRUST_REQUEST_ID_HEADER": False}, HTTP_X_CORRELATION_ID="guid-123")
    assert rid != "guid-123"


@pytest.mark.parametrize("value", ["X-Correlation-ID", ["bad header"], [1], ["ok", "x\r\ny"]])
def test_setting_is_validated(value: Any) -> None:
    """Anything but a list of header names is reported, naming the key and the value."""
    _, errors = build_settings({"REQUEST_ID_FALLBACK_HEADERS": value})
    assert any("REQUEST_ID_FALLBACK_HEADERS" in e and repr(value) in e for e in errors)


def test_setting_accepts_header_names() -> None:
    """A list of header names is valid and becomes META keys."""
    built, errors = build_settings(FALLBACK)
    assert errors == []
    assert built.request_id_fallback_meta_keys == ("HTTP_X_CORRELATION_ID", "HTTP_CORRELATION_ID")
