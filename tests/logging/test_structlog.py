"""structlog events get our context and go through our handler, formatters and scrubber."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from django_lantern.context import RequestContext, current
from django_lantern.logging import RequestContextFilter
from django_lantern.logging import structlog as lantern_structlog
from django_lantern.logging.schemas import EcsFormatter
from tests.conftest import LogCapture


class Lines(logging.Handler):
    """A real handler with our filter and a chosen formatter; keeps the lines."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def configured() -> Iterator[None]:
    lantern_structlog.configure_structlog(cache_logger_on_first_use=False)
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def in_request() -> Iterator[RequestContext]:
    ctx = RequestContext("rid-struct", "POST", "/orders/", None)
    ctx.trace_id, ctx.span_id, ctx.user_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 9
    token = current.set(ctx)
    yield ctx
    current.reset(token)


@pytest.fixture
def attach() -> Iterator[Any]:
    """Attach a handler to a named logger (not propagating); removed after the test."""
    attached: list[tuple[logging.Logger, logging.Handler, bool]] = []

    def _attach(name: str, handler: logging.Handler) -> None:
        target = logging.getLogger(name)
        attached.append((target, handler, target.propagate))
        target.addHandler(handler)
        target.setLevel(logging.DEBUG)
        target.propagate = False

    yield _attach
    for target, handler, propagate in attached:
        target.removeHandler(handler)
        target.propagate = propagate


def test_structlog_event_becomes_our_json_line(
    attach: Any, configured: None, in_request: RequestContext, logs: LogCapture
) -> None:
    """An event's key/values become fields; the line has our context and is scrubbed."""
    attach("shop.struct", logs)
    structlog.get_logger("shop.struct").info("order_placed", order_id=5, password="hunter2", message="clash")
    payload = json.loads(logs.json_lines[-1])
    assert payload["message"] == "order_placed" and payload["logger"] == "shop.struct"
    assert payload["request_id"] == "rid-struct" and payload["trace_id"] == in_request.trace_id
    assert payload["user_id"] == 9
    assert payload["order_id"] == 5
    assert payload["password"] != "hunter2"  # the scrubber ran
    assert payload["structlog_message"] == "clash"  # a LogRecord name is renamed, never an error


def test_structlog_through_a_vendor_schema(attach: Any, configured: None, in_request: RequestContext) -> None:
    """The chosen schema (here ECS) renders structlog events like any record."""
    handler = Lines(EcsFormatter())
    attach("shop.ecs", handler)
    structlog.get_logger("shop.ecs").warning("slow_payment", provider="acme")
    line = handler.lines[-1]
    assert line["log.level"] == "warning" and line["message"] == "slow_payment"
    assert line["http"]["request"]["id"] == "rid-struct" and line["trace"]["id"] == in_request.trace_id
    assert line["provider"] == "acme"


def test_structlog_exception(attach: Any, configured: None, logs: LogCapture) -> None:
    """log.exception() carries the traceback into exc_type, exc_message and stack."""
    attach("shop.exc", logs)
    try:
        raise ValueError("card declined token=abcd1234")
    except ValueError:
        structlog.get_logger("shop.exc").exception("payment_failed")
    payload = json.loads(logs.json_lines[-1])
    assert payload["exc_type"] == "ValueError" and "Traceback" in payload["stack"]
    assert "abcd1234" not in payload["exc_message"]


def test_our_request_id_wins_over_a_bound_one(
    attach: Any, configured: None, in_request: RequestContext, logs: LogCapture
) -> None:
    """django-structlog binds its own request_id; inside a request the line carries ours (the response header's)."""
    attach("shop.bound", logs)
    structlog.contextvars.bind_contextvars(request_id="their-uuid", ip="203.0.113.9")
    structlog.get_logger("shop.bound").info("bound")
    payload = json.loads(logs.json_lines[-1])
    assert payload["request_id"] == "rid-struct" and payload["ip"] == "203.0.113.9"


def test_add_request_context_for_structlog_renderers(in_request: RequestContext) -> None:
    """With structlog's own renderer, the processor alone adds our context."""
    event = lantern_structlog.add_request_context(None, "info", {"event": "x", "request_id": "theirs"})
    assert event["request_id"] == "rid-struct" and event["route"] == "-" and event["span_id"] == in_request.span_id
    current.set(None)  # outside a request, bound values are kept
    event = lantern_structlog.add_request_context(None, "info", {"event": "x", "request_id": "theirs"})
    assert event["request_id"] == "theirs" and event["trace_id"] == "-"


def test_render_to_stdlib_drops_redundant_keys() -> None:
    """timestamp, level and logger from structlog processors are not repeated as extras."""
    out = lantern_structlog.render_to_stdlib(
        None, "info", {"event": "e %s", "timestamp": "t", "level": "info", "logger": "x", "n": 1, "exc_info": False}
    )
    assert out == {"msg": "e %s", "extra": {"n": 1}, "exc_info": None, "stack_info": False}
