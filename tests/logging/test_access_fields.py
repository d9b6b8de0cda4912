"""The access record's fast path writes exactly the line the general path writes.

``logging/_access_fields.py`` reads the access log's record by its known
attributes instead of walking it like an arbitrary record. These tests build
access records from hostile and unusual values and compare every formatter's
output with the fast path on and off, so a divergence (a secret left in, a
field typed differently, a key in another order) fails here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from django_lantern.logging import _base
from django_lantern.logging._access_fields import access_fields
from django_lantern.logging._access_record import make_access_record
from django_lantern.logging.formatters import JsonFormatter, TextFormatter
from django_lantern.logging.schemas._datadog import DatadogFormatter
from django_lantern.logging.schemas._ecs import EcsFormatter
from django_lantern.logging.schemas._gcp import GcpFormatter
from django_lantern.scrubbing import Scrubber

FORMATTERS = [JsonFormatter, TextFormatter, EcsFormatter, GcpFormatter, DatadogFormatter]

PATHS = [
    "/data/",
    "/reset/token=abcdef123456/",
    "/x/password:hunter2hunter2",
    '/q/"quoted" path\\with\nnewline',
    "/ünïcödé/\u202eevil/",
    "/cards/4111 1111 1111 1111/",
    "/jwt/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl/",
    "/long/" + "a" * 9000,
    "/long-secret/" + "b" * 4090 + "?token=supersecretvalue123",
    "",
]
METHODS = ["GET", "POST", "PURGE", "X" * 40, "AKIAABCDEFGHIJKLMNOP", "GET bearer abcdefghijklmnopq"]
USER_IDS = [None, 7, 2**70, "alice", "u" * 5000, uuid.UUID(int=5)]
CLIENT_IPS = [None, "203.0.113.9", "2001:db8::1", "password=hunter2hunter2"]


def make(**overrides: object) -> logging.LogRecord:
    fields: dict[str, object] = {
        "request_id": "0123456789abcdef0123456789abcdef",
        "method": "GET",
        "path": "/data/",
        "route": "data/",
        "status": 200,
        "duration_ms": 1.25,
        "user_id": None,
        "client_ip": "127.0.0.1",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
    }
    fields.update(overrides)
    level = fields.pop("level", logging.INFO)
    return make_access_record(logging.getLogger("access"), level, **fields)  # type: ignore[arg-type]


def general(formatter: logging.Formatter, record: logging.LogRecord, monkeypatch: pytest.MonkeyPatch) -> str:
    """The line with the fast path switched off: ``_BaseFormatter.fields``'s walk of the record."""
    with monkeypatch.context() as patch:
        patch.setattr(_base, "access_fields", lambda formatter, record: None)
        return formatter.format(record)


def cases() -> Iterator[dict[str, object]]:
    for path in PATHS:
        yield {"path": path}
    for method in METHODS:
        yield {"method": method}
    for user_id in USER_IDS:
        yield {"user_id": user_id}
    for ip in CLIENT_IPS:
        yield {"client_ip": ip}
    yield {"status": 503, "duration_ms": 2000.0, "level": logging.ERROR}
    yield {"status": 404, "level": logging.WARNING, "route": "-"}
    yield {"trace_id": "-", "span_id": "-", "request_id": "r" * 5000}


@pytest.mark.parametrize("formatter_class", FORMATTERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", list(cases()), ids=lambda c: repr(c)[:40])
def test_fast_path_line_equals_general_path_line(
    formatter_class: type[logging.Formatter], case: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every formatter writes the same line from a record through the fast path as through the general path."""
    formatter = formatter_class()
    record, twin = make(**case), make(**case)
    twin.created = record.created  # two records differ in their time; nothing else may differ
    assert formatter.format(record) == general(formatter, twin, monkeypatch)


@pytest.mark.parametrize("field_limit", [64, 4096])
def test_field_limit_applies_the_same_way(field_limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A formatter's field limit caps the same fields the same way on both paths."""
    formatter = JsonFormatter(field_limit=field_limit)
    record_fast = make(path="/p/" + "x" * 200, user_id="y" * 200, route="r" * 200)
    record_general = make(path="/p/" + "x" * 200, user_id="y" * 200, route="r" * 200)
    record_general.created = record_fast.created
    assert formatter.format(record_fast) == general(formatter, record_general, monkeypatch)


def test_the_plain_record_takes_the_fast_path() -> None:
    """The record the access log builds, untouched, is read by the fast path."""
    assert access_fields(JsonFormatter(), make()) is not None


def test_the_message_is_rendered_only_when_read() -> None:
    """The JSON formatters never render the record's own message; ``getMessage()`` renders it on demand."""
    record = make(path="/a b/", user_id=7)
    calls: list[object] = []
    original = type(record.msg).__str__

    def counting(line: object) -> str:
        calls.append(line)
        return original(line)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(record.msg), "__str__", counting)
        JsonFormatter().format(record)
        assert calls == []
        assert record.getMessage() == 'method=GET path="/a b/" status=200 duration_ms=1.25 user_id=7'
    record.msg = "replaced by a handler"
    assert record.getMessage() == "replaced by a handler"
    assert access_fields(JsonFormatter(), record) is not None  # the line is rendered from the fields, not msg


@pytest.mark.parametrize(
    "change",
    [
        lambda r: setattr(r, "order_id", 5),  # an extra (a user's filter, bind() fields)
        lambda r: setattr(r, "status", "200"),  # a value of another type
        lambda r: setattr(r, "duration_ms", float("nan")),
        lambda r: setattr(r, "exc_info", (ValueError, ValueError("x"), None)),
        lambda r: r.__dict__.pop("client_ip"),
        lambda r: r.__dict__.pop("lantern_access"),
    ],
    ids=["extra", "str-status", "nan", "exception", "missing-field", "no-marker"],
)
def test_anything_unusual_takes_the_general_path(change: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """An extra attribute, another type, an exception, a missing field or no marker: the general path."""
    record = make()
    change(record)  # type: ignore[operator]
    assert access_fields(JsonFormatter(), record) is None


def test_an_extra_attribute_is_still_written() -> None:
    """An attribute a filter added is on the line (the general path writes it)."""
    record = make()
    record.order_id = 5
    assert '"order_id":5' in JsonFormatter().format(record)


class RedactAddresses(Scrubber):
    """A policy that also treats client addresses as personal data."""

    def scrub_text(self, text: str) -> str:
        return super().scrub_text(text.replace("203.0.113.9", "[address]"))


def test_extra_patterns_and_a_custom_scrubber_apply_on_the_fast_path(settings: object) -> None:
    """The configured extra patterns and scrubber class apply to the fast path's fields."""
    settings.LANTERN = {  # type: ignore[attr-defined]
        "SCRUB_EXTRA_PATTERNS": [r"order-\d+"],
        "SCRUBBER_CLASS": "tests.logging.test_access_fields.RedactAddresses",
    }
    line = JsonFormatter().format(make(path="/orders/order-42/", client_ip="203.0.113.9"))
    assert "order-42" not in line and "203.0.113.9" not in line
    assert '"client_ip":"[address]"' in line
