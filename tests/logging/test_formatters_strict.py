"""Every JSON line valid and truthful: strict UTF-8, typed extras, user_id null, one bad field stays one field."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import io
import json
import logging
import uuid
from pathlib import PurePosixPath
from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from django_lantern.logging import JsonFormatter, TextFormatter, formatters, handlers
from tests.conftest import CORE_URLS, LogCapture

LONE = "\ud800"  # what json.loads makes of a client's '"\\ud800"'


def strict_json(line: str) -> dict[str, Any]:
    """Parse a line the way jq and Elasticsearch do: valid UTF-8 bytes, no lone surrogate anywhere."""
    raw = line.encode("utf-8")  # raises on a lone surrogate in the text itself
    assert b"\\ud8" not in raw.lower() and b"\\udc" not in raw.lower(), "escaped lone surrogate"
    parsed = json.loads(raw.decode("utf-8", "strict"))

    def walk(value: Any) -> None:
        if isinstance(value, str):
            value.encode("utf-8")
        elif isinstance(value, dict):
            for key, item in value.items():
                key.encode("utf-8")
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(parsed)
    return parsed  # type: ignore[no-any-return]


def _record(msg: str = "hello", args: Any = None, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("tests.strict", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


@pytest.fixture(params=["orjson", "stdlib"])
def serialiser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both back ends: orjson (refuses surrogates) and the stdlib json (would write them)."""
    if request.param == "stdlib":
        monkeypatch.setattr(formatters, "_orjson", None)
    return str(request.param)


def test_lone_surrogates_become_replacement_characters(serialiser: str) -> None:
    """In the message, an extra key, an extra value, a nested value and the path: the line is strict UTF-8 JSON."""
    record = _record(
        f"body said {LONE}!",
        **{f"k{LONE}": f"v{LONE}", "nested": {"list": [f"x{LONE}y"]}, "path": f"/p/{LONE}/"},
    )
    line = strict_json(JsonFormatter().format(record))
    assert line["message"] == "body said \ufffd!"
    assert line["k\ufffd"] == "v\ufffd" and line["nested"] == {"list": ["x\ufffdy"]}
    assert line["path"] == "/p/\ufffd/"


def test_lone_surrogate_through_a_strict_utf8_stream(serialiser: str) -> None:
    """Written through the handler to a strict UTF-8 stream: no write error, nothing dropped."""
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="utf-8", errors="strict", write_through=True)
    handler = handlers.SafeStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    before = handlers.stats()[handlers.ERRORS]
    handler.handle(_record("%s", (f"a{LONE}b",)))
    assert handlers.stats()[handlers.ERRORS] == before
    assert strict_json(buffer.getvalue().decode("utf-8"))["message"] == "a\ufffdb"


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_common_types_are_written_as_values(serialiser: str) -> None:
    """Dates ISO 8601, UUID as its string, Decimal exact, bytes as safe text, enums as values; no reprs."""
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    record = _record(
        when=dt.datetime(2026, 11, 24, 10, 0, 1, 500, tzinfo=dt.UTC),
        naive=dt.datetime(2026, 11, 24, 10, 0),
        day=dt.date(2026, 11, 24),
        clock=dt.time(9, 30),
        took=dt.timedelta(seconds=1, milliseconds=500),
        ident=ident,
        price=decimal.Decimal("12.50"),
        blob=b"ok\xff\x00",
        colour=Colour.RED,
        level_=Level.HIGH,
        where=PurePosixPath("/srv/app"),
        many=[dt.date(2026, 1, 1), ident],
    )
    line = strict_json(JsonFormatter().format(record))
    assert line["when"] == "2026-11-24T10:00:01.000500+00:00"
    assert line["naive"] == "2026-11-24T10:00:00"
    assert line["day"] == "2026-11-24" and line["clock"] == "09:30:00"
    assert line["took"] == 1.5
    assert line["ident"] == "12345678-1234-5678-1234-567812345678"
    assert line["price"] == "12.50"
    assert line["blob"] == "ok\\xff\x00"
    assert line["colour"] == "red" and line["level_"] == 3
    assert line["where"] == "/srv/app"
    assert line["many"] == ["2026-01-01", str(ident)]
    text = TextFormatter().format(record)
    assert "datetime.datetime(" not in text and "UUID(" not in text and "Decimal(" not in text
    assert "when=2026-11-24T10:00:01.000500+00:00" in text


def test_user_id_is_null_in_json_and_the_field_agrees_with_the_message() -> None:
    """Unknown user: null in JSON (never "-"), "None" in the access message; a known id is the same number in both."""
    anonymous = _record(
        "method=%s path=%s status=%s duration_ms=%.2f user_id=%s",
        ("GET", "/x", 200, 1.0, None),
        lantern_access=True,
        status=200,
        duration_ms=1.0,
        user_id="-",
    )
    line = strict_json(JsonFormatter().format(anonymous))
    assert line["user_id"] is None and line["message"].endswith("user_id=None")
    known = _record(
        "method=%s path=%s status=%s duration_ms=%.2f user_id=%s",
        ("GET", "/x", 200, 1.0, None),
        lantern_access=True,
        status=200,
        duration_ms=1.0,
        user_id=7,
    )
    line = strict_json(JsonFormatter().format(known))
    assert line["user_id"] == 7 and line["message"].endswith("user_id=7")
    assert strict_json(JsonFormatter().format(_record()))["user_id"] is None  # outside a request
    assert "user_id" not in TextFormatter().format(_record())  # text leaves unknown fields out


@pytest.mark.urls(CORE_URLS)
def test_user_id_is_null_on_every_line_of_an_anonymous_request(client: Client, logs: LogCapture) -> None:
    """Through the middleware: the view's line and the access line both say null."""
    rid = client.get("/ok/").headers["X-Request-Id"]
    lines = [strict_json(raw) for raw in logs.json_lines if json.loads(raw)["request_id"] == rid]
    assert {line["logger"] for line in lines} >= {"tests.views", "access"}
    assert all(line["user_id"] is None for line in lines)


class _ItemsExplode(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("cannot list my items")


class _Unstringable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__


def _log_errors() -> float:
    handlers.ensure_metrics()
    return REGISTRY.get_sample_value("lantern_log_errors_total") or 0.0


def test_one_unrenderable_extra_replaces_only_its_field(serialiser: str) -> None:
    """The message, the request id and the other extras stay; the bad field says so; the failure is counted."""
    before, before_prom = handlers.stats()[handlers.ERRORS], _log_errors()
    record = _record("order %s shipped", (42,), request_id="req-123", bad=_ItemsExplode(a=1), good={"n": 1})
    line = strict_json(JsonFormatter().format(record))
    assert line["message"] == "order 42 shipped" and line["request_id"] == "req-123"
    assert line["bad"] == "<unrenderable _ItemsExplode>"
    assert line["good"] == {"n": 1}
    assert handlers.stats()[handlers.ERRORS] == before + 1
    assert _log_errors() == before_prom + 1
    text = TextFormatter().format(record)
    assert "order 42 shipped" in text and "req-123" in text and "<unrenderable _ItemsExplode>" in text


def test_unprintable_values_keep_the_line(serialiser: str) -> None:
    """A value whose str and repr both raise is described by its type; the line is intact."""
    line = strict_json(JsonFormatter().format(_record("kept", request_id="req-9", odd=_Unstringable())))
    assert line["message"] == "kept" and line["request_id"] == "req-9"
    assert line["odd"] == "<unrepresentable _Unstringable>"


def test_a_record_that_cannot_be_formatted_counts_as_a_log_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """lantern_log_errors_total rises when formatting fails inside a handler (it stayed 0 before)."""

    def explode(self: Any, record: logging.LogRecord) -> Any:
        raise RuntimeError("formatter bug")

    from django_lantern import _errors as errors

    # Already reported once: the internal-error line would go through the (equally broken) root handlers.
    monkeypatch.setattr(errors, "_seen", {("log_format", "RuntimeError")})
    before, before_prom = handlers.stats()[handlers.ERRORS], _log_errors()
    stream = io.StringIO()
    handler = handlers.SafeStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    monkeypatch.setattr(formatters._BaseFormatter, "fields", explode)
    handler.handle(_record("still here", request_id="req-5"))
    line = strict_json(stream.getvalue())
    assert line["message"] == "still here" and line["request_id"] == "req-5"
    assert handlers.stats()[handlers.ERRORS] == before + 1
    assert _log_errors() == before_prom + 1
