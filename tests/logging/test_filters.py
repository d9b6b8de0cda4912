"""RequestContextFilter: context on every record, ``"-"`` outside a request."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client, RequestFactory

from django_lantern.context import RequestContext, current
from django_lantern.logging import RequestContextFilter
from django_lantern.logging.filters import CONTEXT_FIELDS
from tests.conftest import CORE_URLS, LogCapture


def _record(msg: str = "hello", **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_outside_a_request_every_field_is_dash() -> None:
    """Outside a request every context attribute is ``"-"``."""
    record = _record()
    assert RequestContextFilter().filter(record) is True
    assert {name: getattr(record, name) for name in CONTEXT_FIELDS} == dict.fromkeys(CONTEXT_FIELDS, "-")


def test_inside_a_bound_context_fields_come_from_it() -> None:
    """With a bound context the record gets its id, method and path; trace ids default to ``"-"``."""
    request = RequestFactory().get("/a/b")
    token = current.set(RequestContext("rid-1", "GET", "/a/b", request))
    try:
        record = _record()
        RequestContextFilter().filter(record)
    finally:
        current.reset(token)
    assert record.request_id == "rid-1"  # type: ignore[attr-defined]
    assert record.method == "GET" and record.path == "/a/b"  # type: ignore[attr-defined]
    assert record.route == "-" and record.user_id == "-"  # type: ignore[attr-defined]
    assert record.trace_id == "-" and record.span_id == "-"  # type: ignore[attr-defined]


def test_explicit_extra_wins() -> None:
    """A value passed in ``extra`` is not overwritten by the context."""
    token = current.set(RequestContext("rid-2", "GET", "/", None))
    try:
        record = _record(user_id=99, path="/explicit")
        RequestContextFilter().filter(record)
    finally:
        current.reset(token)
    assert record.user_id == 99 and record.path == "/explicit"  # type: ignore[attr-defined]
    assert record.request_id == "rid-2"  # type: ignore[attr-defined]


@pytest.mark.urls(CORE_URLS)
def test_records_in_a_view_carry_the_request_context(client: Client, logs: LogCapture) -> None:
    """A record emitted inside a view carries request_id, method, path and the route template."""
    client.get("/items/5/", headers={"X-Request-Id": "view-ctx-1"})
    (line,) = [p for p in logs.parsed() if p["logger"] == "tests.views"]
    assert line["request_id"] == "view-ctx-1"
    assert line["method"] == "GET"
    assert line["path"] == "/items/5/"
    assert line["route"] == "/items/<int:pk>/"
    assert line["user_id"] is None


@pytest.mark.urls(CORE_URLS)
@pytest.mark.django_db
def test_records_in_a_view_carry_the_user_id_once_loaded(
    client: Client, logs: LogCapture, django_user_model: Any
) -> None:
    """Once the view has loaded the user, its records carry the user id."""
    user = django_user_model.objects.create_user("grace", password="pw-not-used-123")
    client.force_login(user)
    client.get("/touch-user/")
    (line,) = [p for p in logs.parsed() if p["logger"] == "tests.views"]
    assert line["user_id"] == user.pk


def test_after_a_request_records_are_dash_again(client: Client, logs: LogCapture) -> None:
    """A record logged after the request has ended carries no request's context."""
    client.get("/healthz")
    logging.getLogger("tests.after").warning("after the request")
    (line,) = [p for p in logs.parsed() if p["logger"] == "tests.after"]
    assert line["request_id"] == "-" and line["path"] == "-" and line["method"] == "-"
