"""django_lantern.sentry with a real sentry-sdk sending to a local endpoint."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory

from django_lantern import sentry as lantern_sentry
from django_lantern.scrubbing import Scrubber
from tests.helpers.integrations import SentryEndpoint, flush_sentry

pytestmark = [pytest.mark.urls("tests.urls_errors"), pytest.mark.django_db]

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXNlY3JldA"
FORM = {
    "title": "a harmless title",
    "password": "Sup3rS3cretPass!",
    "password1": "Another-Secret-9",
    "new_password": "NewPassw0rd-777",
    "card_number": "4111 1111 1111 1111",
    "cvv": "9713",
}
HEADERS = {
    "HTTP_AUTHORIZATION": f"Bearer {JWT}",
    "HTTP_X_API_KEY": "xk_live_5f3a9c0d1e2b4a68",
    "HTTP_COOKIE": "sessionid=sess8c1f2a9e7d; csrftoken=csrf4b7e1d0c9a",
}
QUERY = {"token": "qtok-3e8f1a2b", "api_key": "qkey-7c4d9e0f"}

# Every secret value, and the spellings it could take on its way out
# (the card number without spaces, the JWT's parts, the cookie values).
SECRETS = [
    *[FORM[k] for k in ("password", "password1", "new_password", "card_number")],
    FORM["card_number"].replace(" ", ""),
    JWT,
    JWT.split(".")[1],
    JWT.split(".")[2],
    HEADERS["HTTP_X_API_KEY"],
    "sess8c1f2a9e7d",
    "csrf4b7e1d0c9a",
    *QUERY.values(),
    "Sup3rS3cretPass%21",  # URL-encoded
]
CVV = re.compile(r"(?<![0-9A-Za-z])9713(?![0-9A-Za-z])")


def assert_no_secrets(text: str, where: str) -> None:
    for secret in SECRETS:
        at = text.find(secret)
        assert at < 0, f"{secret!r} leaked into {where}: ...{text[max(0, at - 300) : at + 60]}..."
    assert not CVV.search(text), f"the cvv leaked into {where}"


def serve_wsgi(environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """Run one request through Django's WSGIHandler, in process: what gunicorn
    calls, and what Sentry's integration wraps (a fresh scope per request)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.append((status, headers))

    # As Django's test client does: the test database must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = WSGIHandler()(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            chunks.close()  # type: ignore[attr-defined]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    status, headers = started[0]
    return status, dict(headers), body


def post_boom() -> tuple[str, dict[str, str], bytes]:
    path = "/errors/boom/?token={token}&api_key={api_key}".format(**QUERY)
    return serve_wsgi(RequestFactory().post(path, FORM, **HEADERS).environ)


# Sentry 2.x deprecates send_default_pii for data_collection; it still works,
# and projects still set it, so both settings are covered.
PII_OPTIONS = {
    "default": {},
    "send_default_pii": {"send_default_pii": True},
    "data_collection": {"data_collection": {"user_info": True, "cookies": {"mode": "denylist"}}},
}


@pytest.mark.filterwarnings("ignore:The send_default_pii option is deprecated:DeprecationWarning")
@pytest.mark.parametrize("pii", PII_OPTIONS.values(), ids=PII_OPTIONS.keys())
def test_secrets_reach_neither_logs_nor_sentry_and_ids_match(
    pii: dict[str, Any], sentry: Any, sentry_endpoint: SentryEndpoint, logs: Any
) -> None:
    """Done-when 1: a failing form post with secrets everywhere; no log line and
    no envelope holds any of them, and both carry the same request id."""
    assert sentry(**pii)
    status, headers, _ = post_boom()
    flush_sentry()
    assert status.startswith("500")
    request_id = headers["X-Request-Id"]

    log_text = "\n".join(logs.json_lines + logs.text_lines)
    assert_no_secrets(log_text, "the logs")
    assert_no_secrets(sentry_endpoint.everything(), "a Sentry envelope")

    lines = [json.loads(line) for line in logs.json_lines]
    assert all(line["request_id"] == request_id for line in lines if line["logger"] != "django_lantern")
    errors = [line for line in lines if line["logger"] == "django.request"]
    assert len(errors) == 1 and errors[0]["exc_type"] == "ValueError"
    assert "token=[redacted]" in errors[0]["exc_message"]

    events = sentry_endpoint.events()
    assert len(events) == 1
    event = events[0]
    assert event["tags"]["request_id"] == request_id
    assert event["tags"]["route"] == "/errors/boom/"
    assert event["environment"] == "test-env" and event["release"] == "lantern@test"
    request = event["request"]
    assert request["data"]["password"] == "[redacted]"
    assert request["data"]["title"] == "a harmless title"
    assert "token=[redacted]" in request["query_string"]
    assert "token=[redacted]" in event["exception"]["values"][0]["value"]
    assert "user" not in event or set(event["user"]) <= {"id"}
    assert request["headers"].get("Authorization", "[redacted]") == "[redacted]"
    assert request["headers"].get("X-Api-Key", "[redacted]") == "[redacted]"


@pytest.mark.filterwarnings("ignore:The send_default_pii option is deprecated:DeprecationWarning")
def test_user_is_reduced_to_its_id_even_with_send_default_pii(
    sentry: Any, sentry_endpoint: SentryEndpoint, client: Client, django_user_model: Any
) -> None:
    """With send_default_pii Sentry collects email, username and IP; only the id is sent."""
    assert sentry(send_default_pii=True)
    user = django_user_model.objects.create_user("alice", "alice@example.com", "pw-unused-123")
    client.force_login(user)
    client.raise_request_exception = False
    client.get("/errors/fail/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.7")
    flush_sentry()
    (event,) = sentry_endpoint.events()
    assert event["user"] == {"id": str(user.pk)}
    text = sentry_endpoint.everything()
    for leaked in ("alice@example.com", "203.0.113.9", "198.51.100.7"):
        assert leaked not in text
    assert "hunter2-secret" not in text


@pytest.mark.filterwarnings("ignore:The send_default_pii option is deprecated:DeprecationWarning")
def test_user_fields_widen_what_is_kept(
    sentry: Any, sentry_endpoint: SentryEndpoint, client: Client, django_user_model: Any
) -> None:
    """``user_fields`` opts into more than the id."""
    assert sentry(send_default_pii=True, user_fields=("id", "username"))
    user = django_user_model.objects.create_user("bob", "bob@example.com", "pw-unused-123")
    client.force_login(user)
    client.raise_request_exception = False
    client.get("/errors/fail/")
    flush_sentry()
    (event,) = sentry_endpoint.events()
    assert event["user"] == {"id": str(user.pk), "username": "bob"}


def test_django_sensitivity_markers_are_honoured(sentry: Any, sentry_endpoint: SentryEndpoint, client: Client) -> None:
    """sensitive_post_parameters blanks ``memo`` in the body; sensitive_variables
    blanks ``pin_code`` (and the wrapper's arguments) in the frames' locals."""
    assert sentry()
    client.raise_request_exception = False
    memo = "memo-is-private-42"
    client.post("/errors/marked/", {"memo": memo, "other": "visible-value"})
    flush_sentry()
    (event,) = sentry_endpoint.events()
    assert event["request"]["data"] == {"memo": "[redacted]", "other": "visible-value"}
    text = sentry_endpoint.everything()
    assert memo not in text
    assert memo[::-1] not in text  # the derived pin, only ever a local variable
    frames = [f for v in event["exception"]["values"] for f in v["stacktrace"]["frames"]]
    check = next(f for f in frames if f["function"] == "_check_pin")
    assert check["vars"]["pin_code"] == "[redacted]"
    assert check["vars"]["hint"] != "[redacted]"


def test_a_failing_scrubber_drops_the_event_and_counts_it(
    sentry: Any, sentry_endpoint: SentryEndpoint, client: Client, settings: Any, internal_errors: dict[str, int]
) -> None:
    """If the scrubber raises, nothing is sent and the failure is counted."""
    settings.LANTERN = {**settings.LANTERN, "SCRUBBER_CLASS": "tests.sentry.test_sentry.BrokenScrubber"}
    assert sentry()
    client.raise_request_exception = False
    client.get("/errors/fail/")
    flush_sentry()
    assert sentry_endpoint.events() == []
    # The error, and the internal-error record about it (also refused).
    assert internal_errors["scrub:sentry"] >= 1


class BrokenScrubber(Scrubber):
    """A replacement scrubber that always fails."""

    def scrub(self, value: Any, _depth: int = 0) -> Any:
        raise RuntimeError("scrubber bug")


def test_user_before_send_runs_first_and_cannot_skip_scrubbing(
    sentry: Any, sentry_endpoint: SentryEndpoint, client: Client
) -> None:
    """A project's before_send runs first; what it adds is still scrubbed."""
    seen: list[str] = []

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        seen.append(event["event_id"])
        event.setdefault("extra", {})["api_token"] = "added-by-project-77"
        return event

    assert sentry(before_send=before_send)
    client.raise_request_exception = False
    client.get("/errors/fail/")
    flush_sentry()
    (event,) = sentry_endpoint.events()
    assert event["event_id"] in seen
    assert event["extra"]["api_token"] == "[redacted]"


def test_transactions_are_scrubbed_and_tagged_through_the_wsgi_handler(
    sentry: Any, sentry_endpoint: SentryEndpoint
) -> None:
    """Served by Django's WSGIHandler (which Sentry wraps in a per-request
    isolation scope), the transaction carries the request id and no secrets."""
    assert sentry(traces_sample_rate=1.0)
    status, _, body = serve_wsgi(RequestFactory().get("/errors/items/7/", QUERY, **HEADERS).environ)
    assert status == "200 OK" and body == b"item 7"
    flush_sentry()
    (transaction,) = sentry_endpoint.events("transaction")
    assert re.fullmatch(r"[0-9a-f]{32}", transaction["tags"]["request_id"])
    assert transaction["transaction"] == "/errors/items/{pk}/"
    assert_no_secrets(sentry_endpoint.everything(), "a transaction envelope")


def test_init_without_a_dsn_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SENTRY_DSN: init() returns False and the middleware hook stays off."""
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert lantern_sentry.init() is False
    assert lantern_sentry.state.enabled is False


def test_without_sentry_sdk_init_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module imports without sentry-sdk; init() says which extra to install."""
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)
    monkeypatch.setitem(sys.modules, "sentry_sdk.integrations.django", None)
    with pytest.raises(ImportError, match=r"django-lantern\[sentry\]"):
        lantern_sentry.init(dsn="http://k@127.0.0.1:9/1")
