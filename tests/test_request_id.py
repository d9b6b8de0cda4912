"""Request ids: validation, generation, and what the middleware does with the header."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from django_lantern import request_id
from django_lantern.context import get_request_id
from django_lantern.logging import RequestContextFilter
from django_lantern.middleware import LanternMiddleware
from tests.conftest import CORE_URLS, LogCapture

pytestmark = pytest.mark.urls(CORE_URLS)

HEX32 = re.compile(r"[0-9a-f]{32}")
REJECT_LOGGER = "django_lantern.request_id"

# Each hostile value carries the marker "QQLEAK" (or is made of "Q"s), which a
# generated id (lowercase hex) can never contain.
HOSTILE_IDS = {
    "ten_thousand_chars": "Q" * 10_000,
    "cr_lf": "QQLEAK\r\nlevel=critical forged=1",
    "space_user_id": "QQLEAK user_id=1",
    "nul_byte": "QQLEAK\x00tail",
    "non_ascii": "QQLEAK-idé-✓",
}
MARKERS = ("QQLEAK", "Q" * 16, "forged", "user_id=1")


def _all_header_values(response: HttpResponse) -> str:
    return "\n".join(f"{k}: {v}" for k, v in response.headers.items())


@pytest.mark.parametrize(
    "value",
    [
        "0123456789abcdef0123456789abcdef",
        "65c25176-74b7-4264-8ef2-a40910973d5d",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "Root-1-5759e988-bd862e3fe1be46a994272793",
        "a",
        "a" * 128,
        "svc.name:42_x-y",
    ],
)
def test_is_valid_accepts_safe_ids(value: str) -> None:
    """Hex, UUID, ULID and other 1-128 character ids of the safe charset are accepted."""
    assert request_id.is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 129,
        "a b",
        'a"b',
        "a'b",
        "a=b",
        "a\rb",
        "a\nb",
        "a\x00b",
        "idé",
        "a\tb",
        "a\x1b[31m",
        "a;b",
        "a/b",
        "-",
        "--",
        ".",
        "...",
        "_:-.",
        "-" * 128,
    ],
)
def test_is_valid_rejects_unsafe_ids(value: str) -> None:
    """Empty, too long, whitespace, quotes, ``=``, control, non-ASCII and punctuation-only ids are rejected."""
    assert not request_id.is_valid(value)


def test_generate_is_32_lowercase_hex_and_unique() -> None:
    """Generated ids are 32 lowercase hex characters and do not repeat."""
    ids = {request_id.generate() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(HEX32.fullmatch(i) for i in ids)


def test_rejected_message_formats_a_length_and_a_source_only() -> None:
    """The rejection message takes a length and the source's name (a constant of ours), never the value."""
    assert request_id.REJECTED_MESSAGE.count("%") == 2
    assert "%d" in request_id.REJECTED_MESSAGE and "%r" not in request_id.REJECTED_MESSAGE


@pytest.mark.parametrize("source", [request_id.HEADER, request_id.BIND, request_id.TASK_MESSAGE, request_id.TASK_ROW])
@pytest.mark.parametrize("value", ["ok-id", "bad id\n", 42, ""])
def test_accept_is_one_rule_for_every_source(source: str, value: object, caplog: pytest.LogCaptureFixture) -> None:
    """``accept`` returns a valid id as it is; anything else is None with one warning that
    names the source and the length and never holds the value."""
    with caplog.at_level(logging.WARNING, logger="django_lantern.request_id"):
        accepted = request_id.accept(value, source)
    if value == "ok-id":
        assert accepted == "ok-id" and not caplog.records
        return
    assert accepted is None
    [record] = caplog.records
    assert record.args == (len(value) if isinstance(value, str) else 0, source)
    assert "bad id" not in record.getMessage()


def test_accept_of_nothing_is_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """An absent id is not a rejection: None, and no warning."""
    assert request_id.accept(None, request_id.HEADER) is None
    assert not caplog.records


@pytest.mark.parametrize("name", sorted(HOSTILE_IDS))
def test_hostile_incoming_id_is_replaced_and_never_logged(
    name: str, client: Client, logs: LogCapture, caplog: pytest.LogCaptureFixture
) -> None:
    """A hostile X-Request-Id is replaced, appears in no log line or header, and is warned about once by length."""
    value = HOSTILE_IDS[name]
    caplog.set_level(logging.DEBUG)
    response = client.get("/ok/", headers={"X-Request-Id": value})
    assert response.status_code == 200
    rid = response.headers["X-Request-Id"]
    assert HEX32.fullmatch(rid)
    assert response.wsgi_request.request_id == rid  # type: ignore[attr-defined]
    headers = _all_header_values(response)
    everything = logs.everything() + "\n" + caplog.text
    for marker in (*MARKERS, value):
        assert marker not in headers
        assert marker not in everything
    warnings = [r for r in logs.records if r.name == REJECT_LOGGER]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert f"length {len(value)}" in warnings[0].getMessage()
    # The warning is logged inside the request: it carries the new id.
    assert logs.by_logger(REJECT_LOGGER)[0]["request_id"] == rid
    # Every line of this request carries the new id.
    assert {line["request_id"] for line in logs.parsed()} == {rid}


def test_empty_incoming_id_is_replaced_with_one_warning(client: Client, logs: LogCapture) -> None:
    """An empty X-Request-Id is invalid (not 1 to 128 characters): a fresh id and one warning saying length 0."""
    response = client.get("/ok/", headers={"X-Request-Id": ""})
    assert HEX32.fullmatch(response.headers["X-Request-Id"])
    (warning,) = [r for r in logs.records if r.name == REJECT_LOGGER]
    assert warning.levelno == logging.WARNING and warning.getMessage() == request_id.REJECTED_MESSAGE % (
        0,
        request_id.HEADER,
    )


def test_absent_incoming_id_is_generated_without_warning(client: Client, logs: LogCapture) -> None:
    """No X-Request-Id at all: a fresh id, no warning."""
    response = client.get("/ok/")
    assert HEX32.fullmatch(response.headers["X-Request-Id"])
    assert not [r for r in logs.records if r.name == REJECT_LOGGER]


@pytest.mark.parametrize("value", ["0123456789abcdef0123456789abcdef", "65c25176-74b7-4264-8ef2-a40910973d5d"])
def test_valid_incoming_id_is_kept(value: str, client: Client, logs: LogCapture) -> None:
    """A 32-hex id and a hyphenated UUID are kept, echoed and logged, with no warning."""
    response = client.get("/ok/", headers={"X-Request-Id": value})
    assert response.headers["X-Request-Id"] == value
    assert response.wsgi_request.request_id == value  # type: ignore[attr-defined]
    assert {line["request_id"] for line in logs.parsed()} == {value}
    assert not [r for r in logs.records if r.name == REJECT_LOGGER]


async def test_hostile_incoming_id_is_replaced_on_the_async_path(async_client: Any, logs: LogCapture) -> None:
    """The async path replaces a hostile id and warns once, by length only."""
    value = HOSTILE_IDS["space_user_id"]
    response = await async_client.get("/async-plain/", headers={"X-Request-Id": value})
    rid = response.headers["X-Request-Id"]
    assert HEX32.fullmatch(rid)
    assert "QQLEAK" not in logs.everything()
    assert len([r for r in logs.records if r.name == REJECT_LOGGER]) == 1


@override_settings(LANTERN={"REQUEST_ID_HEADER": "X-Correlation-Id"})
def test_header_name_is_configurable(client: Client) -> None:
    """With REQUEST_ID_HEADER set, the id is read from and echoed on that header only."""
    response = client.get(
        "/ok/", headers={"X-Correlation-Id": "corr-123", "X-Request-Id": "0123456789abcdef0123456789abcdef"}
    )
    assert response.headers["X-Correlation-Id"] == "corr-123"
    assert "X-Request-Id" not in response.headers
    assert response.headers["Access-Control-Expose-Headers"] == "X-Correlation-Id"


@override_settings(LANTERN={"TRUST_REQUEST_ID_HEADER": False})
def test_trust_off_ignores_incoming_header(client: Client, logs: LogCapture) -> None:
    """With TRUST_REQUEST_ID_HEADER off, even a valid incoming id is replaced, silently."""
    response = client.get("/ok/", headers={"X-Request-Id": "0123456789abcdef0123456789abcdef"})
    rid = response.headers["X-Request-Id"]
    assert rid != "0123456789abcdef0123456789abcdef"
    assert HEX32.fullmatch(rid)
    bad = client.get("/ok/", headers={"X-Request-Id": "QQLEAK bad"})
    assert HEX32.fullmatch(bad.headers["X-Request-Id"])
    assert not [r for r in logs.records if r.name == REJECT_LOGGER]


def test_unit_request_id_attribute_and_context_match() -> None:
    """The middleware sets request.request_id, and get_request_id() returns it inside the view."""
    seen: dict[str, str] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["attribute"] = request.request_id  # type: ignore[attr-defined]
        seen["context"] = get_request_id()
        return HttpResponse("ok")

    request = RequestFactory().get("/x", HTTP_X_REQUEST_ID="abc-123")
    response = LanternMiddleware(view)(request)
    assert seen == {"attribute": "abc-123", "context": "abc-123"}
    assert response["X-Request-Id"] == "abc-123"
    assert get_request_id() == "-"


def test_unit_rejection_warns_exactly_once_with_length(caplog: pytest.LogCaptureFixture) -> None:
    """A rejected id produces exactly one WARNING that states the length and not the value."""
    caplog.set_level(logging.DEBUG)
    request = RequestFactory().get("/x", HTTP_X_REQUEST_ID="QQLEAK " * 10)
    LanternMiddleware(lambda r: HttpResponse("ok"))(request)
    warnings = [r for r in caplog.records if r.name == REJECT_LOGGER]
    assert len(warnings) == 1
    assert warnings[0].getMessage() == request_id.REJECTED_MESSAGE % (70, request_id.HEADER)
    assert "QQLEAK" not in caplog.text


@pytest.mark.parametrize(
    ("peer", "kept"),
    [("10.1.2.3", True), ("::ffff:10.1.2.3", True), ("203.0.113.7", False), ("not-an-ip", False)],
)
def test_incoming_id_trusted_only_from_listed_networks(peer: str, kept: bool) -> None:
    """With REQUEST_ID_TRUSTED_NETWORKS, an id is kept only from those peers; others get a fresh one, no warning."""
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.request_id)  # type: ignore[attr-defined]
        return HttpResponse("ok")

    with override_settings(LANTERN={"REQUEST_ID_TRUSTED_NETWORKS": ["10.0.0.0/8"]}):
        request = RequestFactory().get("/", HTTP_X_REQUEST_ID="proxy-id-1", REMOTE_ADDR=peer)
        LanternMiddleware(view)(request)
    assert (seen[0] == "proxy-id-1") is kept
    if not kept:
        assert request_id.is_valid(seen[0]) and len(seen[0]) == 32


def test_trusted_networks_setting_is_validated() -> None:
    """A bad entry is reported naming the key and the value."""
    from django_lantern.conf import build_settings

    _, errors = build_settings({"REQUEST_ID_TRUSTED_NETWORKS": ["10.0.0.0/8", "nonsense"]})
    assert any("REQUEST_ID_TRUSTED_NETWORKS" in e and "nonsense" in e for e in errors)
    _, errors = build_settings({"REQUEST_ID_TRUSTED_NETWORKS": "10.0.0.0/8"})
    assert any("REQUEST_ID_TRUSTED_NETWORKS" in e for e in errors)


@pytest.mark.parametrize("value", ["-", "---", "..."])
def test_punctuation_only_incoming_id_is_replaced_with_a_warning(value: str, client: Client, logs: LogCapture) -> None:
    """``-`` (the logs' "no request") and other punctuation-only ids are replaced and warned about."""
    response = client.get("/ok/", headers={"X-Request-Id": value})
    assert HEX32.fullmatch(response.headers["X-Request-Id"])
    warnings = [r for r in logs.records if r.name == REJECT_LOGGER]
    assert [w.getMessage() for w in warnings] == [request_id.REJECTED_MESSAGE % (len(value), request_id.HEADER)]


TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def _ids_for(lantern: dict[str, Any], *, peer: str = "127.0.0.1", count: int = 3) -> list[str]:
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.request_id)  # type: ignore[attr-defined]
        return HttpResponse("ok")

    with override_settings(LANTERN={"REQUEST_ID_FROM_TRACE": True, **lantern}):
        for _ in range(count):
            request = RequestFactory().get("/", HTTP_TRACEPARENT=TRACEPARENT, REMOTE_ADDR=peer)
            LanternMiddleware(view)(request)
    return seen


@pytest.mark.parametrize(
    ("lantern", "peer"),
    [
        ({"TRUST_REQUEST_ID_HEADER": False}, "127.0.0.1"),
        ({"REQUEST_ID_TRUSTED_NETWORKS": ["10.0.0.0/8"]}, "203.0.113.7"),
    ],
    ids=["trust-off", "peer-outside-trusted-networks"],
)
def test_untrusted_peer_cannot_choose_the_id_through_traceparent(lantern: dict[str, Any], peer: str) -> None:
    """REQUEST_ID_FROM_TRACE ignores an incoming trace id from a peer whose X-Request-Id would be ignored:
    three requests with the same traceparent get three fresh ids."""
    ids = _ids_for(lantern, peer=peer)
    assert TRACE_ID not in ids
    assert len(set(ids)) == 3 and all(HEX32.fullmatch(i) for i in ids)


def test_trusted_peer_still_gets_the_trace_id() -> None:
    """From a trusted network the incoming trace id is still the request id."""
    assert _ids_for({"REQUEST_ID_TRUSTED_NETWORKS": ["10.0.0.0/8"]}, peer="10.1.2.3", count=1) == [TRACE_ID]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "route"), [("/healthz", "/healthz"), ("/items/3/", "/items/<int:pk>/")])
def test_rejection_warning_names_the_access_lines_route(client: Any, path: str, route: str) -> None:
    """The rejected-id warning is written once the route is known: the same route as the request's access line."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestContextFilter())
    loggers = [logging.getLogger(REJECT_LOGGER), logging.getLogger("access")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        client.get(path, HTTP_X_REQUEST_ID="bad id " * 3)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    warning, access = records
    assert warning.name == REJECT_LOGGER and access.name == "access"
    assert warning.route == access.route == route  # type: ignore[attr-defined]
    assert warning.request_id == access.request_id  # type: ignore[attr-defined]
