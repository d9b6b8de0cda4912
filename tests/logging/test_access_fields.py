"""The access record's fast path writes exactly the line the general path writes.

``logging/access_fields.py`` reads the middleware's access record by its known
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
from django_lantern.logging._access_record import AccessRecord
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


def make(**overrides: object) -> AccessRecord:
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
    return AccessRecord("access", level, **fields)  # type: ignore[arg-type]


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
    formatter = formatter_class()
    record, twin = make(**case), make(**case)
    twin.created = record.created  # two records differ in their time; nothing else may differ
    assert formatter.format(record) == general(formatter, twin, monkeypatch)


@pytest.mark.parametrize("field_limit", [64, 4096])
def test_field_limit_applies_the_same_way(field_limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    formatter = JsonFormatter(field_limit=field_limit)
    record_fast = make(path="/p/" + "x" * 200, user_id="y" * 200, route="r" * 200)
    record_general = make(path="/p/" + "x" * 200, user_id="y" * 200, route="r" * 200)
    record_general.created = record_fast.created
    assert formatter.format(record_fast) == general(formatter, record_general, monkeypatch)


def test_the_plain_record_takes_the_fast_path() -> None:
    assert access_fields(JsonFormatter(), make()) is not None


def test_the_message_is_rendered_on_first_read_and_then_kept() -> None:
    record = make(path="/a b/", user_id=7)
    assert "msg" not in record.__dict__  # the JSON formatters never need it
    assert access_fields(JsonFormatter(), record) is not None
    assert record.getMessage() == 'method=GET path="/a b/" status=200 duration_ms=1.25 user_id=7'
    assert record.__dict__["msg"] == record.getMessage()
    # Read once (Sentry's logging integration does, before any handler): still the fast path.
    assert access_fields(JsonFormatter(), record) is not None
    record.msg = "replaced by a handler"
    assert record.getMessage() == "replaced by a handler"


@pytest.mark.parametrize(
    "change",
    [
        lambda r: setattr(r, "order_id", 5),  # an extra (a user's filter, bind() fields)
        lambda r: setattr(r, "status", "200"),  # a value of another type
        lambda r: setattr(r, "duration_ms", float("nan")),
        lambda r: setattr(r, "exc_info", (ValueError, ValueError("x"), None)),
        lambda r: r.__dict__.pop("client_ip"),
    ],
    ids=["extra", "str-status", "nan", "exception", "missing-field"],
)
def test_anything_unusual_takes_the_general_path(change: object, monkeypatch: pytest.MonkeyPatch) -> None:
    record = make()
    change(record)  # type: ignore[operator]
    assert access_fields(JsonFormatter(), record) is None


def test_an_extra_attribute_is_still_written() -> None:
    record = make()
    record.order_id = 5
    assert '"order_id":5' in JsonFormatter().format(record)


# -- the record itself: the standard attributes, set as LogRecord sets them -----


def stock_twin(record: AccessRecord) -> logging.LogRecord:
    return logging.LogRecord(record.name, record.levelno, record.pathname, 0, record.msg, None, None, "write")


def standard_attrs(record: logging.LogRecord) -> dict[str, object]:
    return {key: value for key, value in record.__dict__.items() if key in STOCK_KEYS}


STOCK_KEYS = frozenset(logging.LogRecord("x", logging.INFO, __file__, 0, "", None, None).__dict__)


@pytest.mark.parametrize("now_ns", [1_700_000_000_123_456_789, 1_700_000_000_999_999_999, 1_700_000_001_000_000_000])
def test_record_has_the_standard_attributes_with_the_standard_values(
    now_ns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same keys as a stock LogRecord on this Python, and the same values under a frozen clock
    (including the rounding at a second's edge, which Python 3.13 computes differently)."""
    import time

    monkeypatch.setattr(time, "time_ns", lambda: now_ns)
    monkeypatch.setattr(time, "time", lambda: now_ns / 1e9)
    record = make()
    stock = stock_twin(record)
    assert set(record.__dict__) >= STOCK_KEYS
    assert standard_attrs(record) == standard_attrs(stock)
    assert record.getMessage() == stock.getMessage()


def test_record_in_another_thread_and_in_an_asyncio_task_names_them() -> None:
    import asyncio
    import threading

    found: list[tuple[dict[str, object], dict[str, object]]] = []

    def in_thread() -> None:
        record = make()
        twin = stock_twin(record)  # reads ``msg``, which the access record renders on first read
        found.append((standard_attrs(record), standard_attrs(twin)))

    thread = threading.Thread(target=in_thread, name="worker-7")
    thread.start()
    thread.join()

    async def in_task() -> None:
        record = make()
        twin = stock_twin(record)  # reads ``msg``, which the access record renders on first read
        found.append((standard_attrs(record), standard_attrs(twin)))

    async def main() -> None:
        await asyncio.create_task(in_task(), name="request-task")

    asyncio.run(main())
    for ours, theirs in found:
        for key in ("created", "msecs", "relativeCreated"):
            ours.pop(key), theirs.pop(key)
        assert ours == theirs
    assert found[0][0]["threadName"] == "worker-7"
    if "taskName" in STOCK_KEYS:
        assert found[1][0]["taskName"] == "request-task"


class RedactAddresses(Scrubber):
    """A policy that also treats client addresses as personal data."""

    def scrub_text(self, text: str) -> str:
        return super().scrub_text(text.replace("203.0.113.9", "[address]"))


def test_extra_patterns_and_a_custom_scrubber_apply_on_the_fast_path(settings: object) -> None:
    settings.LANTERN = {  # type: ignore[attr-defined]
        "SCRUB_EXTRA_PATTERNS": [r"order-\d+"],
        "SCRUBBER_CLASS": "tests.logging.test_access_fields.RedactAddresses",
    }
    line = JsonFormatter().format(make(path="/orders/order-42/", client_ip="203.0.113.9"))
    assert "order-42" not in line and "203.0.113.9" not in line
    assert '"client_ip":"[address]"' in line
