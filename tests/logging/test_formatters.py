"""JsonFormatter and TextFormatter: shape, exceptions, hostile input, broken records."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

import pytest
from django.test import Client

from django_lantern.context import RequestContext, current
from django_lantern.logging import JsonFormatter, TextFormatter
from django_lantern.logging import formatters as formatters_module
from django_lantern.logging.filters import CONTEXT_FIELDS
from tests.conftest import CORE_URLS, LogCapture

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# One logfmt pair: a bare value, or a JSON string literal.
PAIR = re.compile(r'([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)')


def parse_text(line: str) -> tuple[str, str, str, dict[str, str]]:
    """Split a text line into ts, level, logger and its key=value pairs; fail on anything forged."""
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    ts, level, logger, rest = line.split(" ", 3)
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = PAIR.match(rest, pos)
        assert match, f"unparseable text at {pos}: {rest[pos:]!r}"
        key, raw = match.groups()
        assert key not in fields, f"duplicate key {key!r} in {line!r}"
        fields[key] = json.loads(raw) if raw.startswith('"') else raw
        pos = match.end()
        if pos < len(rest):
            assert rest[pos] == " "
            pos += 1
    return ts, level, logger, fields


def _record(msg: str = "hello %s", args: Any = ("world",), exc_info: Any = None, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("app.orders", logging.INFO, __file__, 10, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_json_keys_in_order() -> None:
    """A JSON line has ts, level, logger, message, then the context keys, then extra keys."""
    payload = json.loads(JsonFormatter().format(_record(order_id=5, sku="a-1")))
    keys = list(payload)
    assert keys[:4] == ["ts", "level", "logger", "message"]
    assert keys[4 : 4 + len(CONTEXT_FIELDS)] == list(CONTEXT_FIELDS)
    assert keys[4 + len(CONTEXT_FIELDS) :] == ["order_id", "sku"]
    assert payload["message"] == "hello world"
    assert payload["level"] == "info" and payload["logger"] == "app.orders"
    assert payload["order_id"] == 5 and payload["sku"] == "a-1"


def test_json_ts_is_rfc3339_utc() -> None:
    """``ts`` is RFC 3339 in UTC with millisecond precision, matching the record's time."""
    record = _record()
    record.created = 1_700_000_000.1234
    payload = json.loads(JsonFormatter().format(record))
    assert RFC3339_UTC.fullmatch(payload["ts"])
    parsed = dt.datetime.fromisoformat(payload["ts"].replace("Z", "+00:00"))
    assert parsed.utcoffset() == dt.timedelta(0)
    assert abs(parsed.timestamp() - record.created) < 0.001


def test_json_context_keys_inside_a_request() -> None:
    """Inside a request the JSON line carries the request's context."""
    token = current.set(RequestContext("rid-json", "POST", "/orders/", None))
    try:
        payload = json.loads(JsonFormatter().format(_record()))
    finally:
        current.reset(token)
    assert payload["request_id"] == "rid-json"
    assert payload["method"] == "POST" and payload["path"] == "/orders/" and payload["route"] == "-"


def _exc_info() -> Any:
    try:
        raise ValueError("bad value 42")
    except ValueError:
        return sys.exc_info()


def test_json_exception_fields() -> None:
    """An exception becomes exc_type, exc_message and stack."""
    payload = json.loads(JsonFormatter().format(_record(exc_info=_exc_info())))
    assert payload["exc_type"] == "ValueError"
    assert payload["exc_message"] == "bad value 42"
    assert "Traceback" in payload["stack"] and "_exc_info" in payload["stack"]


def test_text_exception_cannot_start_a_fake_record_line() -> None:
    """In text, stack continuation lines are indented, so a message cannot start a record line."""
    try:
        raise RuntimeError("x\n2026-01-01T00:00:00.000Z CRITICAL forged msg=owned")
    except RuntimeError:
        info = sys.exc_info()
    lines = TextFormatter().format(_record(exc_info=info)).split("\n")
    parse_text(lines[0])
    assert all(line.startswith("    ") for line in lines[1:])


def test_bad_format_args_still_yield_one_valid_line() -> None:
    """A record whose %-arguments do not fit yields one line per formatter, raw args not shown."""
    record = _record("total %d of %s", ("not-a-number-QQARG",))
    payload = json.loads(JsonFormatter().format(record))
    assert "could not be formatted" in payload["message"]
    assert "QQARG" not in json.dumps(payload)
    text = TextFormatter().format(_record("total %d of %s", ("not-a-number-QQARG",)))
    parse_text(text)
    assert "QQARG" not in text


def test_bad_args_through_a_real_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken call site through a real logger and handler still produces exactly one line per formatter."""
    # Not propagated: pytest's own capture handler re-raises formatting errors.
    logger = logging.getLogger("tests.broken")
    monkeypatch.setattr(logger, "propagate", False)
    handler = LogCapture()
    logger.addHandler(handler)
    try:
        logger.info("%s %s", "only-one")
    finally:
        logger.removeHandler(handler)
    assert len(handler.json_lines) == 1
    json.loads(handler.json_lines[0])
    parse_text(handler.text_lines[0])


def test_unserialisable_extras_are_represented() -> None:
    """Extras of other types become their repr (a date its ISO form), and the line stays valid."""

    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    payload = json.loads(
        JsonFormatter().format(_record(thing=Thing(), when=dt.date(2026, 1, 2), bad=Unprintable(), nested={"a": [1]}))
    )
    assert payload["thing"] == "<Thing>"
    assert payload["when"] == "2026-01-02"
    assert payload["bad"] == "<unrepresentable Unprintable>"
    assert payload["nested"] == {"a": [1]}


def test_long_fields_are_capped_with_a_marker() -> None:
    """A huge message is truncated with a visible marker."""
    payload = json.loads(JsonFormatter().format(_record("%s", ("x" * 10_000,))))
    assert len(payload["message"]) < 5000
    assert payload["message"].endswith("...[lantern: 5904 chars cut]")


def test_json_without_orjson_has_the_same_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """With orjson absent the stdlib fallback produces the same object."""
    record_a, record_b = _record(order_id=1), _record(order_id=1)
    record_b.created = record_a.created
    with_orjson = json.loads(JsonFormatter().format(record_a))
    monkeypatch.setattr(formatters_module, "_orjson", None)
    without = json.loads(JsonFormatter().format(record_b))
    assert with_orjson == without


def test_text_formatter_escapes_hostile_values() -> None:
    """Spaces, quotes, ``=``, CR/LF and ANSI escapes in a path cannot forge a field or a line."""
    hostile = '/a b"c=d\r\n2026-01-01T00:00:00.000Z CRITICAL x forged=1 \x1b[31mred'
    token = current.set(RequestContext("rid-t", "GET", hostile, None))
    try:
        line = TextFormatter().format(_record("user said %s", ('hi" forged=2\nnext',)))
    finally:
        current.reset(token)
    _, level, logger, fields = parse_text(line)
    assert level == "INFO" and logger == "app.orders"
    assert fields["path"] == hostile
    assert fields["msg"] == 'user said hi" forged=2\nnext'
    assert "forged" not in fields


@pytest.mark.urls(CORE_URLS)
def test_hostile_request_path_through_the_stack(logs: LogCapture) -> None:
    """A request whose path holds spaces, quotes, ``=``, CR/LF and ANSI yields only well-formed lines."""
    client = Client()
    client.get("/nope/a%20b%22c=d%0D%0A2026-01-01T00:00:00.000Z%20CRITICAL%20forged=1%1B[31m")
    assert logs.text_lines
    for line in logs.text_lines:
        _, _, _, fields = parse_text(line)
        assert "forged" not in fields
    for line in logs.json_lines:
        assert "\n" not in line
        json.loads(line)
    access = logs.by_logger("access")[0]
    assert "\r\n" in access["path"]


@pytest.mark.urls(CORE_URLS)
@pytest.mark.parametrize("path", ["/does-not-exist/?q=QQSECRET&token=QQSECRET", "/boom/?q=QQSECRET&token=QQSECRET"])
def test_django_request_object_is_never_stringified(
    path: str, logs: LogCapture, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Django's ``request`` extra on django.request lines (404, 500) never leaks the query string."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(logging.getLogger("django.request"), "filters", [])  # keep Django's 4xx line here
    response = Client(raise_request_exception=False).get(path)
    assert response.status_code in (404, 500)
    assert [p for p in logs.parsed() if p["logger"] == "django.request"]
    assert "QQSECRET" not in logs.everything()
    assert "QQSECRET" not in caplog.text
    for payload in logs.parsed():
        assert "request" not in payload


def test_record_that_breaks_formatting_entirely_yields_a_marker_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """If building the fields fails, each formatter still returns one well-formed line (JSON: with the message)."""

    def explode(self: Any, record: logging.LogRecord) -> Any:
        raise RuntimeError("formatter bug")

    monkeypatch.setattr(formatters_module._BaseFormatter, "fields", explode)
    payload = json.loads(JsonFormatter().format(_record()))
    assert payload["message"] == "hello world" and payload["lantern_format_error"] == "RuntimeError"
    text = TextFormatter().format(_record())
    assert "\n" not in text and "could not be formatted" in text


@pytest.mark.urls(CORE_URLS)
@pytest.mark.parametrize(
    "path",
    [
        "/x/token=ab%22cd%20forged=1",
        "/x/password=a%5C%22b%20forged=2",
        "/x/a%22%20token=%22q%20forged=3",
        "/x/Bearer%20abcdefghij%22%20forged=4",
    ],
)
def test_scrubbing_cannot_break_the_access_line_quoting(path: str, logs: LogCapture) -> None:
    """A secret-looking path next to a quote is scrubbed without cutting through the escaping."""
    Client().get(path)
    for line in logs.text_lines:
        _, _, _, fields = parse_text(line)
        assert not any(key.startswith("forged") for key in fields), line
    (access,) = logs.by_logger("access")
    message_fields = parse_text("ts LEVEL logger " + access["message"])[3]
    assert list(message_fields) == ["method", "path", "status", "duration_ms", "user_id"]
    assert message_fields["path"] == access["path"]
    assert message_fields["user_id"] == "None"


SESSION_KEY = "k7fz2qv9w1x8m3n6p0r4t5y2u8i1o3a9"
CLIENT_KEY = "live-client-4f9e2a71c3b8"


@pytest.mark.urls("tests.urls_errors")
def test_the_requests_own_secrets_are_redacted_in_exception_fields(logs: LogCapture) -> None:
    """A session cookie and an API key quoted in an exception: absent from message, exc_message and stack."""
    client = Client(raise_request_exception=False, HTTP_X_API_KEY=CLIENT_KEY)
    client.cookies["sessionid"] = SESSION_KEY
    assert client.get("/errors/quoted/").status_code == 500
    (error,) = logs.by_logger("django.request")
    assert error["exc_type"] == "LookupError"
    assert "no session [redacted] for client [redacted]" in error["exc_message"]
    assert "no session [redacted]" in error["stack"]
    rendered = "\n".join(logs.json_lines + logs.text_lines)
    assert SESSION_KEY not in rendered and CLIENT_KEY not in rendered


def test_a_record_outside_a_request_is_not_touched_by_the_request_rule() -> None:
    """Without a request, a long random value in a message is left alone: nothing marks it."""
    line = json.loads(
        JsonFormatter().format(logging.LogRecord("x", logging.INFO, __file__, 1, SESSION_KEY, None, None))
    )
    assert line["message"] == SESSION_KEY


ISSUE_TOKENS = {
    "stripe": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "stripe-restricted": "rk_live_" + "51H8xZ2eZvKYlo2C0aBcDeF",
    "github": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "github-fine-grained": "github_pat_" + "11ABCDEFG0123456789_" + "abcdefghijKLMNOPQRST0123456789" * 2,
    "slack-bot": "xoxb-" + "2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack-user": "xoxp-" + "2345678901-2345678901-2345678901234-0123456789abcdef0123456789abcdef",
    "google": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
}


@pytest.mark.urls("tests.urls_errors")
@pytest.mark.parametrize("token", ISSUE_TOKENS.values(), ids=ISSUE_TOKENS.keys())
def test_vendor_tokens_reach_no_log_line(token: str, logs: LogCapture) -> None:
    """A token in a log message and an exception message, under a harmless name: found by its shape."""
    client = Client(raise_request_exception=False)
    assert client.get("/errors/echo/", {"echo": token}).status_code == 500
    (error,) = logs.by_logger("django.request")
    assert "upstream rejected [redacted]" in error["exc_message"]
    assert any(line["message"] == "upstream replied [redacted]" for line in logs.by_logger("tests.errors.views"))
    assert token not in "\n".join(logs.json_lines + logs.text_lines)
