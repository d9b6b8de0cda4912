"""Sentry transactions and errors carry no identity, session or one-time credential;
probes start no transaction; losses are counted. Served through Django's WSGIHandler,
which sentry-sdk's Django integration wraps, to a local envelope endpoint."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import RequestFactory

from django_lantern.metrics._families import get_families
from tests.helpers.integrations import SentryEndpoint, flush_sentry
from tests.sentry.test_sentry import serve_wsgi

pytestmark = [pytest.mark.urls("tests.urls_errors"), pytest.mark.django_db]

USERNAME = "alice-wonder-71"
EMAIL = "alice.wonder@example.org"
PASSWORD = "correct-horse-battery-9"
OAUTH_CODE = "oauth-code-4f9a1c2e7b"
CSRF = "Zq7RkV2mW9xT4pL8sN3bH6cJ1dF5gY0a"  # a valid 32-character secret, sent as cookie and token
WITH_CSRF = {"HTTP_COOKIE": f"csrftoken={CSRF}", "HTTP_X_CSRFTOKEN": CSRF}


def lost(reason: str, category: str) -> float:
    families = get_families()
    name = "lantern_sentry_lost_events_total"
    return families.registry.get_sample_value(name, {"reason": reason, "category": category}) or 0.0


@pytest.mark.parametrize(
    "options",
    [{}, {"data_collection": {"user_info": False, "database_query_data": True}}],
    ids=["default", "data_collection with query data"],
)
def test_login_transaction_carries_no_identity_and_no_session(
    options: dict[str, Any], sentry: Any, sentry_endpoint: SentryEndpoint, django_user_model: Any
) -> None:
    """A login POST with performance on: no username in request.data or anywhere else,
    and neither the new session key nor the session data in span data."""
    django_user_model.objects.create_user(USERNAME, EMAIL, PASSWORD)
    assert sentry(traces_sample_rate=1.0, **options)
    form = {"username": USERNAME, "password": PASSWORD}
    status, _, _ = serve_wsgi(RequestFactory().post("/errors/login/", form, **WITH_CSRF).environ)
    assert status.startswith("302")  # logged in
    flush_sentry()
    (transaction,) = sentry_endpoint.events("transaction")
    assert transaction["request"]["data"]["username"] == "[redacted]"
    session = Session.objects.get()
    text = sentry_endpoint.everything()
    for private in (USERNAME, PASSWORD, session.session_key, session.session_data):
        assert private not in text
    if options:  # query data on: the session queries are there, without their parameters
        spans = [s for s in transaction["spans"] if "django_session" in (s.get("description") or "")]
        assert spans and all(s["data"]["db.params"] == "[redacted]" for s in spans if "db.params" in s["data"])


def test_json_body_identity_fields_are_removed_from_errors_and_transactions(
    sentry: Any, sentry_endpoint: SentryEndpoint
) -> None:
    """An e-mail and a phone number in a JSON body reach neither the error nor the transaction."""
    assert sentry(traces_sample_rate=1.0)
    body = json.dumps({"email": EMAIL, "phone_number": "+44 20 7946 0958", "note": "kept as is"})
    environ = RequestFactory().post("/errors/fail/", body, content_type="application/json", **WITH_CSRF).environ
    status, _, _ = serve_wsgi(environ)
    assert status.startswith("500")
    flush_sentry()
    events = sentry_endpoint.events() + sentry_endpoint.events("transaction")
    assert len(events) == 2
    for event in events:
        assert event["request"]["data"] == {"email": "[redacted]", "phone_number": "[redacted]", "note": "kept as is"}
    assert EMAIL not in sentry_endpoint.everything()


def test_oauth_code_leaves_no_trace(sentry: Any, sentry_endpoint: SentryEndpoint) -> None:
    """The one-time code of an OAuth redirect is redacted in the query string, the URL, the
    Referer header and the frame-local request repr, in the error and in the transaction."""
    assert sentry(traces_sample_rate=1.0, include_local_variables=True)
    environ = (
        RequestFactory()
        .get(
            "/errors/oauth/callback/",
            {"code": OAUTH_CODE, "state": "open-state-1"},
            HTTP_REFERER=f"https://app.example.com/cb?code={OAUTH_CODE}&next=/",
        )
        .environ
    )
    status, _, _ = serve_wsgi(environ)
    assert status.startswith("500")
    flush_sentry()
    (event,) = sentry_endpoint.events()
    assert "code=[redacted]" in event["request"]["query_string"]
    assert "state=open-state-1" in event["request"]["query_string"]  # left readable on purpose
    frames = [f for v in event["exception"]["values"] for f in v["stacktrace"]["frames"]]
    view = next(f for f in frames if f["function"] == "oauth_callback")
    assert "code=[redacted]" in view["vars"]["request"]
    assert len(sentry_endpoint.events("transaction")) == 1
    assert OAUTH_CODE not in sentry_endpoint.everything()


@pytest.mark.parametrize("path", ["/healthz", "/readyz/", "/metrics"])
def test_probes_start_no_transaction(path: str, sentry: Any, sentry_endpoint: SentryEndpoint) -> None:
    """Probes and /metrics: no transaction; the next request is still traced."""
    assert sentry(traces_sample_rate=1.0)
    for _ in range(3):
        serve_wsgi(RequestFactory().get(path).environ)
    serve_wsgi(RequestFactory().get("/errors/items/4/").environ)
    flush_sentry()
    assert [t["transaction"] for t in sentry_endpoint.events("transaction")] == ["/errors/items/{pk}/"]
    assert lost("sample_rate", "transaction") == 0  # deliberate sampling is not a loss


def test_trace_probes_setting_traces_them(sentry: Any, sentry_endpoint: SentryEndpoint, settings: Any) -> None:
    """LANTERN["TRACE_PROBES"] brings probe transactions back."""
    settings.LANTERN = {**settings.LANTERN, "TRACE_PROBES": True}
    assert sentry(traces_sample_rate=1.0)
    serve_wsgi(RequestFactory().get("/healthz").environ)
    flush_sentry()
    assert len(sentry_endpoint.events("transaction")) == 1


def test_a_project_sampler_still_decides_for_other_requests(sentry: Any, sentry_endpoint: SentryEndpoint) -> None:
    """A traces_sampler of the project's runs for every request but probes."""
    seen: list[str] = []

    def sampler(context: dict[str, Any]) -> float:
        seen.append(context["wsgi_environ"]["PATH_INFO"])
        return 0.0

    assert sentry(traces_sampler=sampler)
    serve_wsgi(RequestFactory().get("/healthz").environ)
    serve_wsgi(RequestFactory().get("/errors/items/5/").environ)
    flush_sentry()
    assert seen == ["/errors/items/5/"]
    assert sentry_endpoint.events("transaction") == []


@pytest.fixture
def failing_endpoint(no_proxy: None) -> Any:
    endpoint = _Failing500()
    try:
        yield endpoint
    finally:
        endpoint.close()


class _Failing500(SentryEndpoint):
    """Answers every envelope with HTTP 500, after ``delay`` seconds (so the queue can fill)."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0
        handler = self.server.RequestHandlerClass
        endpoint = self

        class Handler(handler):  # type: ignore[valid-type,misc]
            def send_response(self, code: int, message: str | None = None) -> None:
                time.sleep(endpoint.delay)
                super().send_response(500, message)

        self.server.RequestHandlerClass = Handler


def start_sentry(dsn: str, **options: Any) -> Any:
    from django_lantern import sentry as lantern_sentry

    assert lantern_sentry.init(dsn=dsn, http_proxy="", **options)


def test_lost_events_are_counted_by_reason_and_category(failing_endpoint: Any, sentry: Any) -> None:
    """Envelopes refused by the server (HTTP 500) and events that did not fit the
    transport's queue are counted in lantern_sentry_lost_events_total."""
    import sentry_sdk

    start_sentry(failing_endpoint.dsn, traces_sample_rate=1.0, transport_queue_size=2)
    before_network = lost("network_error", "error")
    before_overflow = lost("queue_overflow", "error")
    failing_endpoint.delay = 0.3
    for i in range(8):
        sentry_sdk.capture_message(f"lost message {i}", level="error")
    flush_sentry()
    network = lost("network_error", "error") - before_network
    overflow = lost("queue_overflow", "error") - before_overflow
    assert network >= 1 and overflow >= 1
    assert network + overflow == 8


def test_a_lost_transaction_counts_its_spans_once(sentry: Any) -> None:
    """A transaction item counts 1 transaction and its spans plus one, as sentry-sdk counts
    them, although the transport records the spans again through a nested call."""
    import sentry_sdk
    from sentry_sdk.envelope import Item, PayloadRef

    assert sentry()
    transport = sentry_sdk.get_client().transport
    before = lost("ratelimit_backoff", "transaction"), lost("ratelimit_backoff", "span")
    payload = {"type": "transaction", "spans": [{"span_id": "a"}, {"span_id": "b"}]}
    transport.record_lost_event("ratelimit_backoff", item=Item(payload=PayloadRef(json=payload), type="transaction"))
    transport.record_lost_event("before_send", data_category="error")  # a decision, not a loss
    after = lost("ratelimit_backoff", "transaction"), lost("ratelimit_backoff", "span")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 3)
    assert lost("before_send", "error") == 0


def test_only_the_lifespan_refusal_is_dropped() -> None:
    """The error Django raises for the lifespan scope is dropped; any other ValueError is kept."""
    from django_lantern.sentry import LIFESPAN_REFUSAL, make_before_send

    before_send = make_before_send()
    refusal = ValueError(LIFESPAN_REFUSAL)
    other = ValueError("Django can only handle ASGI/HTTP connections, not websocket.")
    assert before_send({"level": "error"}, {"exc_info": (ValueError, refusal, None)}) is None
    assert before_send({"level": "error"}, {"exc_info": (ValueError, other, None)}) is not None


def test_client_sized_request_values_are_capped(sentry: Any, sentry_endpoint: SentryEndpoint) -> None:
    """A 142 kB query string and a 20 kB header reach Sentry cut to 2 048 characters, with a marker."""
    from django_lantern.scrubbing._cut import CUT_MARKER
    from django_lantern.tracing._attributes import URL_QUERY_LIMIT

    assert sentry(traces_sample_rate=1.0)
    query = "q=" + "a" * 142_000
    environ = RequestFactory().get(f"/errors/oauth/callback/?{query}", HTTP_USER_AGENT="u" * 20_000).environ
    serve_wsgi(environ)
    flush_sentry()
    for event in sentry_endpoint.events() + sentry_endpoint.events("transaction"):
        request = event["request"]
        assert request["query_string"].endswith(CUT_MARKER % (len(query) - URL_QUERY_LIMIT))
        assert len(request["query_string"]) < URL_QUERY_LIMIT + 40
        assert len(request["headers"]["User-Agent"]) < URL_QUERY_LIMIT + 40
