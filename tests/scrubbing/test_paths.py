"""URL parameters named secret leave the path in every sink: Django's own password
reset link (``django.contrib.auth.urls``) as the case, and ``redact_path`` on its own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import PasswordResetConfirmView
from django.test import AsyncClient, Client, override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from django_lantern.conf import build_settings
from django_lantern.middleware import LanternMiddleware
from django_lantern.scrubbing._paths import redact_path

pytestmark = [pytest.mark.urls("tests.scrubbing.urls_sinks"), pytest.mark.django_db]

REDACTED = "/accounts/reset/[redacted]/[redacted]/"


@pytest.fixture
def reset_link(django_user_model: Any) -> tuple[str, str, str]:
    """A live password-reset path, its uidb64 and its token."""
    user = django_user_model.objects.create_user("reset-me", "reset@example.org", "old-password-1")
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return f"/accounts/reset/{uidb64}/{token}/", uidb64, token


def test_a_reset_link_reaches_no_sink(
    reset_link: tuple[str, str, str], every_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view fails after resolution: the access line, the lines after resolution,
    the span, Sentry's event and transaction show the redacted path, and the
    token appears nowhere (the mail subject and the DEBUG page included)."""
    path, uidb64, token = reset_link

    def fail(self: Any, uidb64: str) -> None:
        raise RuntimeError("user lookup failed")

    monkeypatch.setattr(PasswordResetConfirmView, "get_user", fail)
    seen = every_sink(path)
    seen.assert_absent(token)
    lines = [json.loads(line) for line in seen.log_lines["json"]]
    access = next(line for line in lines if line["logger"] == "access")
    error = next(line for line in lines if line["logger"] == "django.request")
    assert access["path"] == error["path"] == REDACTED
    assert REDACTED in access["message"]
    # Free text quotes the raw path; the token goes by value, a uidb64 under
    # six characters stays (replacing "MQ" everywhere would garble events).
    assert error["message"] == f"Internal Server Error: /accounts/reset/{uidb64}/[redacted]/"
    for name in ("text", "ecs", "gcp", "datadog"):
        assert REDACTED in seen.sinks[f"the {name} log lines"]
    server = next(s for s in seen.spans if s.kind.name == "SERVER")
    assert server.attributes["url.path"] == REDACTED
    event, transaction = seen.sentry_events[0], seen.transactions[0]
    assert event["request"]["url"].endswith(REDACTED)
    assert transaction["request"]["url"].endswith(REDACTED)
    assert transaction["transaction"] == "/accounts/reset/{uidb64}/{token}/"
    assert REDACTED in seen.sinks["the DEBUG page"]


def test_a_route_without_such_parameters_is_left_alone(logs: Any) -> None:
    """``sinks/items/<int:pk>/``: ``pk`` is no secret name, the path stays; named in the setting, it goes."""
    assert Client().get("/sinks/items/42/").status_code == 200
    with override_settings(LANTERN={"REDACT_PATH_KWARGS": ["pk"]}):
        assert Client().get("/sinks/items/42/").status_code == 200
    assert [line["path"] for line in logs.by_logger("access")] == ["/sinks/items/42/", "/sinks/items/[redacted]/"]


async def test_an_async_stack_redacts_at_resolution_without_a_thread_hop(logs: Any) -> None:
    """Under ASGI the middleware gives Django a coroutine ``process_view`` (no ``sync_to_async``)."""
    middleware = LanternMiddleware(_async_view)
    assert iscoroutinefunction(middleware.process_view)
    assert not iscoroutinefunction(LanternMiddleware(lambda request: None).process_view)  # type: ignore[arg-type, return-value]
    with override_settings(LANTERN={"REDACT_PATH_KWARGS": ["pk"]}):
        response = await AsyncClient().get("/sinks/items/42/")
    assert response.status_code == 200
    (access,) = logs.by_logger("access")
    assert access["path"] == "/sinks/items/[redacted]/"


async def _async_view(request: Any) -> Any:
    return None


def test_the_setting_names_the_parameters(reset_link: tuple[str, str, str], logs: Any) -> None:
    """``REDACT_PATH_KWARGS`` replaces the default list; sensitive key names (``token``) stay redacted."""
    path, uidb64, _ = reset_link
    with override_settings(LANTERN={"REDACT_PATH_KWARGS": []}):
        Client().get(path)
    (access,) = logs.by_logger("access")
    assert access["path"] == f"/accounts/reset/{uidb64}/[redacted]/"


@pytest.mark.parametrize(
    "value", [["token", 3], "token", ["not an identifier"]], ids=["not a string", "a string", "not a name"]
)
def test_a_bad_setting_is_a_clear_error(value: object) -> None:
    _, errors = build_settings({"REDACT_PATH_KWARGS": value})
    assert any("REDACT_PATH_KWARGS" in e and "URL parameter names" in e for e in errors), errors


@pytest.mark.parametrize(
    ("path", "path_info", "route", "kwargs", "expected"),
    [
        ("/reset/MQ/abc-123/", "/reset/MQ/abc-123/", "reset/<uidb64>/<token>/", {"uidb64": "MQ", "token": "abc-123"},
         "/reset/R/R/"),
        ("/app/reset/MQ/abc/", "/reset/MQ/abc/", "reset/<uidb64>/<str:token>/", {"uidb64": "MQ", "token": "abc"},
         "/app/reset/R/R/"),
        # A literal segment equal to the value stays: the route says where the value is.
        ("/token/token/", "/token/token/", "token/<token>/", {"token": "token"}, "/token/R/"),
        # A regular-expression route: segments equal to the value.
        ("/r/MQ-abc/x/", "/r/MQ-abc/x/", "^r/(?P<token>[^/]+)/x/$", {"token": "MQ-abc"}, "/r/R/x/"),
        # A path converter spanning segments: the value wherever it appears.
        ("/f/a/b/c/", "/f/a/b/c/", "f/<path:token>/", {"token": "a/b/c"}, "/f/R/"),
    ],
)  # fmt: skip
def test_redact_path(path: str, path_info: str, route: str, kwargs: dict[str, object], expected: str) -> None:
    assert redact_path(path, path_info, route, kwargs, {"token", "uidb64"} & set(kwargs), "R") == expected
