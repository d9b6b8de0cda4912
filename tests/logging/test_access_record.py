"""The access record: the logger's own record, typed fields as the single source, message rendered from them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from django_lantern.logging._access_record import AccessLine, make_access_record
from django_lantern.logging.formatters import JsonFormatter, TextFormatter
from tests.conftest import CORE_URLS, LogCapture

pytestmark = pytest.mark.urls(CORE_URLS)


class _Keep(logging.Handler):
    """Keeps the records as handlers see them, with no filter of ours on the way."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def bare_access() -> Iterator[_Keep]:
    handler = _Keep()
    access = logging.getLogger("access")
    access.addHandler(handler)
    try:
        yield handler
    finally:
        access.removeHandler(handler)


def test_record_carries_typed_fields_before_any_filter(client: Client, bare_access: _Keep) -> None:
    """The record reaches a handler with every field set and typed: no filter needed to fill them."""
    client.get("/items/7/?page=2", headers={"X-Request-Id": "rec-1"})
    (record,) = bare_access.records
    assert type(record) is logging.LogRecord and record.args is None
    assert isinstance(record.msg, AccessLine) and record.__dict__["lantern_access"] is True
    fields = record.__dict__
    assert fields["request_id"] == "rec-1"
    assert (fields["method"], fields["path"], fields["route"]) == ("GET", "/items/7/", "/items/<int:pk>/")
    assert fields["status"] == 200 and type(fields["status"]) is int
    assert type(fields["duration_ms"]) is float
    assert fields["user_id"] == "-" and fields["client_ip"] == "127.0.0.1"
    assert record.getMessage() == (
        f"method=GET path=/items/7/ status=200 duration_ms={fields['duration_ms']:.2f} user_id=None"
    )


def test_no_caller_lookup_for_the_access_line(
    client: Client, bare_access: _Keep, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The place the line comes from is known: ``findCaller`` (a stack walk) is not run for it."""
    walked: list[str] = []
    original = logging.Logger.findCaller

    def counting(self: logging.Logger, *args: Any, **kwargs: Any) -> Any:
        walked.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(logging.Logger, "findCaller", counting)
    client.get("/ok/")
    assert len(bare_access.records) == 1
    assert "access" not in walked


def _record(message: str) -> logging.LogRecord:
    record = make_access_record(
        logging.getLogger("access"),
        logging.INFO,
        request_id="rid-1",
        method="GET",
        path="/reset/token=hunter2/",
        route="reset/<str:token>/",
        status=201,
        duration_ms=12.345,
        user_id=7,
        client_ip="203.0.113.9",
    )
    record.msg = message  # what a user's filter might do to the message
    return record


def test_json_formatter_reads_the_fields_never_the_message() -> None:
    """The JSON line's message and fields come from the record's typed fields, scrubbed;
    a message changed on the way is not parsed nor trusted."""
    line = json.loads(JsonFormatter().format(_record("not an access line at all")))
    assert line["status"] == 201 and line["duration_ms"] == 12.35 and line["user_id"] == 7
    assert line["message"].startswith("method=GET path=") and line["message"].endswith(
        "status=201 duration_ms=12.35 user_id=7"
    )
    assert "hunter2" not in json.dumps(line)


def test_text_formatter_renders_the_same_line() -> None:
    """The text formatter shows the line rendered from the fields, with route and request id."""
    text = TextFormatter().format(_record("ignored"))
    assert "request_id=rid-1" in text and 'route="reset/<str:token>/"' in text
    assert "status=201 duration_ms=12.35 user_id=7" in text and "hunter2" not in text


@pytest.fixture
def stamping_factory() -> Iterator[None]:
    """A record factory that stamps every record, as OpenTelemetry's logging instrumentation does."""
    original = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        record.deployment = "blue"
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(original)


def test_the_record_factory_is_honoured(client: Client, logs: LogCapture, stamping_factory: None) -> None:
    """The access record comes from the installed record factory; what it adds is on the line."""
    client.get("/ok/")
    (record,) = logs.access()
    assert record.__dict__["deployment"] == "blue"
    (line,) = logs.by_logger("access")
    assert line["deployment"] == "blue" and line["status"] == 200
    assert line["message"] == record.getMessage()


def test_assert_logs_sees_the_line_as_the_message(client: Client) -> None:
    """``assertLogs``-style formatting (``%(message)s``) shows the rendered line."""
    handler = _Keep()
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    access = logging.getLogger("access")
    access.addHandler(handler)
    try:
        client.get("/items/3/")
    finally:
        access.removeHandler(handler)
    (record,) = handler.records
    assert handler.format(record).startswith("INFO:access:method=GET path=/items/3/ status=200 duration_ms=")
    assert str(record.msg) == record.getMessage() and repr(record.msg) == repr(record.getMessage())
