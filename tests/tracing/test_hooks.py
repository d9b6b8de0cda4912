"""Server span extras: request_hook / response_hook settings and the standard header-capture variables."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from django_lantern.conf import settings_errors
from django_lantern.tracing import _hooks as tracing_hooks

pytestmark = pytest.mark.urls("tests.urls_errors")

SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNSAMPLED = SAMPLED[:-2] + "00"
calls: list[tuple[Any, ...]] = []


def request_hook(span: Any, request: Any) -> None:
    calls.append(("request", request.path))
    span.set_attribute("app.tenant", request.headers.get("X-Tenant", "none"))


def response_hook(span: Any, request: Any, response: Any) -> None:
    calls.append(("response", request.path, response.status_code))
    span.set_attribute("app.response_bytes", len(response.content))


def broken_hook(*args: Any) -> None:
    raise RuntimeError("hook bug")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    calls.clear()
    for name in (tracing_hooks.REQUEST_ENV, tracing_hooks.RESPONSE_ENV, tracing_hooks.SANITIZE_ENV):
        monkeypatch.delenv(name, raising=False)


def only_span(provider: Any) -> Any:
    (span,) = provider.exporter.get_finished_spans()
    return span


@pytest.mark.parametrize(
    "hooks",
    [
        {"TRACING_REQUEST_HOOK": request_hook, "TRACING_RESPONSE_HOOK": response_hook},
        {
            "TRACING_REQUEST_HOOK": f"{__name__}.request_hook",
            "TRACING_RESPONSE_HOOK": f"{__name__}.response_hook",
        },
    ],
    ids=["callables", "dotted paths"],
)
def test_hooks_see_span_request_and_response(tracer_provider: Any, client: Client, hooks: dict[str, Any]) -> None:
    """Each hook runs once per request with the span, the request and (for the second) the response."""
    with override_settings(LANTERN=hooks):
        response = client.get("/errors/items/3/", HTTP_X_TENANT="acme", HTTP_TRACEPARENT=SAMPLED)
    assert calls == [("request", "/errors/items/3/"), ("response", "/errors/items/3/", 200)]
    span = only_span(tracer_provider)
    assert span.attributes["app.tenant"] == "acme"
    assert span.attributes["app.response_bytes"] == len(response.content)


def test_response_hook_sees_the_500_of_a_failing_view(tracer_provider: Any, client: Client) -> None:
    """A view that raises still ends in the response hook, with Django's 500 response."""
    client.raise_request_exception = False
    with override_settings(LANTERN={"TRACING_RESPONSE_HOOK": response_hook}):
        assert client.get("/errors/fail/").status_code == 500
    assert calls == [("response", "/errors/fail/", 500)]


def test_a_failing_hook_never_fails_the_request(
    tracer_provider: Any, client: Client, internal_errors: dict[str, int]
) -> None:
    """A hook that raises: the request is served, the span ends, the error is counted per hook."""
    with override_settings(LANTERN={"TRACING_REQUEST_HOOK": broken_hook, "TRACING_RESPONSE_HOOK": broken_hook}):
        response = client.get("/errors/items/1/")
    assert response.status_code == 200
    assert only_span(tracer_provider).name == "GET /errors/items/<int:pk>/"
    assert internal_errors == {"tracing_request_hook": 1, "tracing_response_hook": 1}


def test_hooks_skip_unsampled_spans(tracer_provider: Any, client: Client) -> None:
    """A span that records nothing is not handed to the hooks."""
    with override_settings(LANTERN={"TRACING_REQUEST_HOOK": request_hook, "TRACING_RESPONSE_HOOK": response_hook}):
        client.get("/errors/items/1/", HTTP_TRACEPARENT=UNSAMPLED)
    assert calls == []


def test_hook_setting_must_be_callable_or_dotted_path() -> None:
    """A value of the wrong type is lantern.E002's business, with the key named."""
    with override_settings(LANTERN={"TRACING_REQUEST_HOOK": 42}):
        (message,) = settings_errors()
    assert "TRACING_REQUEST_HOOK" in message


def test_listed_headers_are_captured_and_scrubbed(
    tracer_provider: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Request and response headers named (or matched by a pattern) become attributes; a secret
    header listed by mistake is still redacted by the scrubber, and unlisted ones stay out."""
    monkeypatch.setenv(tracing_hooks.REQUEST_ENV, "X-Tenant, authorization ,x-custom-.*,content-type")
    monkeypatch.setenv(tracing_hooks.RESPONSE_ENV, "X-Request-Id,Content-Type")
    response = client.get(
        "/errors/items/2/",
        HTTP_X_TENANT="acme",
        HTTP_AUTHORIZATION="Bearer abcdefghijklmnop0123456789",
        HTTP_X_CUSTOM_ONE="1",
        HTTP_X_OTHER="not listed",
        CONTENT_TYPE="text/plain",
    )
    attrs = only_span(tracer_provider).attributes
    assert attrs["http.request.header.x-tenant"] == ("acme",)
    assert attrs["http.request.header.x-custom-one"] == ("1",)
    assert attrs["http.request.header.content-type"] == ("text/plain",)
    assert "abcdefghijklmnop0123456789" not in str(attrs["http.request.header.authorization"])
    assert "http.request.header.x-other" not in attrs
    assert attrs["http.response.header.x-request-id"] == (response.headers["X-Request-Id"],)
    assert attrs["http.response.header.content-type"] == (response.headers["Content-Type"],)


def test_sanitize_fields_redact_captured_values(
    tracer_provider: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS replaces a captured value."""
    monkeypatch.setenv(tracing_hooks.REQUEST_ENV, "x-tenant,x-account")
    monkeypatch.setenv(tracing_hooks.SANITIZE_ENV, "x-acc.*")
    client.get("/errors/items/2/", HTTP_X_TENANT="acme", HTTP_X_ACCOUNT="4242-private")
    attrs = only_span(tracer_provider).attributes
    assert attrs["http.request.header.x-account"] == ("[REDACTED]",)
    assert attrs["http.request.header.x-tenant"] == ("acme",)


def test_capture_is_bounded(tracer_provider: Any, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pattern matching many headers captures at most MAX_HEADERS, each value cut to MAX_VALUE_LENGTH."""
    monkeypatch.setenv(tracing_hooks.REQUEST_ENV, "x-h-.*")
    headers = {f"HTTP_X_H_{i}": "v" * 5000 for i in range(tracing_hooks.MAX_HEADERS + 10)}
    client.get("/errors/items/2/", **headers)
    captured = {k: v for k, v in only_span(tracer_provider).attributes.items() if k.startswith("http.request.header.")}
    assert len(captured) == tracing_hooks.MAX_HEADERS
    assert all(len(v[0]) == tracing_hooks.MAX_VALUE_LENGTH for v in captured.values())


def test_invalid_pattern_is_taken_literally(
    tracer_provider: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry that is not a valid regular expression does not break capture of the others."""
    monkeypatch.setenv(tracing_hooks.REQUEST_ENV, "x-tenant,x-[broken")
    client.get("/errors/items/2/", HTTP_X_TENANT="acme")
    assert only_span(tracer_provider).attributes["http.request.header.x-tenant"] == ("acme",)
