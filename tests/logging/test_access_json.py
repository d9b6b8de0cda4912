"""The default format's access line assembled as text is the formatter's line, byte for byte.

``logging/_access_json.py`` writes the usual access line from cached JSON
pieces. These tests build the same line through the general path (the
record, ``_BaseFormatter.fields``' walk of it) for hostile and unusual
values, with every field limit, scrubbing on and off and every level, and
check that the text is identical whenever it is written, that plain values
do take it, and that the cache stays bounded.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator
from typing import Any

import pytest

from django_lantern import _cost
from django_lantern._cost import Cost
from django_lantern.context import UNKNOWN, RequestContext
from django_lantern.logging import _access_json, _base
from django_lantern.logging._access_json import json_access_line
from django_lantern.logging._access_record import cost_values, make_access_record
from django_lantern.logging.formatters import JsonFormatter
from django_lantern.scrubbing import Scrubber
from tests.logging.test_access_fields import CLIENT_IPS, METHODS, PATHS, USER_IDS

CREATED = 1764000000.0625
PLAIN: dict[str, Any] = {
    "request_id": "0123456789abcdef0123456789abcdef",
    "method": "GET",
    "path": "/data/",
    "route": "data/",
    "status": 200,
    "duration_ms": 1.25,
    "user_id": None,
    "client_ip": "127.0.0.1",
    "trace_id": UNKNOWN,
    "span_id": UNKNOWN,
}
TRACE = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}
DURATIONS = [0.0, 0.004, 0.005, 0.015, 0.1, 1.005, 1.255, 2.675, 10.0, 100.5, 999.995, 12345.678, 999999999999.99]
DURATIONS += [1e11, 1e13, -1.0, math.nan, math.inf]
COSTS: list[dict[str, Any]] = [
    {"db_queries": 25, "db_seconds": 0.0123456, "db_duplicates": 3, "cache_hits": 2, "response_bytes": 0},
    {"cache_misses": 1, "outbound_calls": 4, "outbound_seconds": 1.5, "response_bytes": 2**62},
    {"db_queries": 2**64, "response_bytes": 10**30},  # past what JSON's integers hold
    {"thread": -1},  # the CPU time unknown
]


def cases() -> Iterator[dict[str, Any]]:
    for path in [*PATHS, "/search/?q=1&token=supersecretvalue123", '/p/"q"\\x', "/\x00\x1f\x7f/", "/\ud800/"]:
        yield {"path": path}
    for method in [*METHODS, 'G"T', "ü"]:
        yield {"method": method}
    for user_id in [*USER_IDS, UNKNOWN, 0, -5, 2**63, 2**64, -(2**63) - 1, True, 7.0, "\ud800"]:
        yield {"user_id": user_id}
    for ip in [*CLIENT_IPS, "::ffff:10.0.0.1", "1.2.3.4 Bearer abcdefghijklmnopqrstuv"]:
        yield {"client_ip": ip}
    for route in ["", "/", "items/<int:pk>/", 'q/"x"\n<evil>', "r" * 5000, "ü/\u2028"]:
        yield {"route": route}
    for request_id in ["r" * 5000, "0123-4567:89ab.cd_ef", "ünï", 'a"b', "\ud800", ""]:
        yield {"request_id": request_id}
    yield TRACE
    for long in (70, 5000):  # past the limit of 64, or past every limit
        yield {"trace_id": "t" * long}
        yield {"span_id": "s" * long}
        yield {"request_id": "r" * long}
    yield {"span_id": 'a"\n'}
    # Not text (only code that sets a context's ids by hand could): refused, never written as it is.
    for not_text in (12345, None, b"abc", ["a"]):
        yield {"request_id": not_text}
        yield {"trace_id": not_text}
        yield {"span_id": not_text}
    for duration_ms in DURATIONS:
        yield {"duration_ms": duration_ms}
    for status in [0, 404, 503, 10**30, -1]:
        yield {"status": status}
    for cost in COSTS:
        yield {"cost": cost}
    for level in [logging.DEBUG, logging.WARNING, logging.ERROR, logging.CRITICAL, 25]:
        yield {"level": level}
    yield {"logger": 'access"\nü'}


@pytest.fixture(autouse=True)
def fresh_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache of this test's own, and the CPU clock fixed (the cost's ``cpu_ms`` is read twice)."""
    monkeypatch.setattr(_access_json, "_shapes", {})
    monkeypatch.setattr(_cost, "_thread_time", lambda: 0.5)


def made_cost(case: dict[str, Any]) -> Cost:
    cost = Cost()
    for name, value in case.get("cost", {}).items():
        setattr(cost, name, value)
    return cost


def general_line(formatter: JsonFormatter, case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The record's line through ``_BaseFormatter.fields``' general walk."""
    fields = {**PLAIN, **{k: v for k, v in case.items() if k in PLAIN}}
    logger = logging.getLogger(case.get("logger", "access"))
    record = make_access_record(
        logger, case.get("level", logging.INFO), line_limit=formatter.field_limit, cost=made_cost(case), **fields
    )
    record.created = CREATED
    with monkeypatch.context() as patch:
        patch.setattr(_base, "access_fields", lambda formatter, record: None)
        return formatter.format(record)


def fast_line(formatter: JsonFormatter, case: dict[str, Any]) -> str | None:
    values = {**PLAIN, **{k: v for k, v in case.items() if k in PLAIN}}
    ctx = RequestContext(values["request_id"], values["method"], values["path"], None)
    ctx.user_id, ctx.trace_id, ctx.span_id = values["user_id"], values["trace_id"], values["span_id"]
    return json_access_line(
        formatter.active_scrubber(),
        formatter.field_limit,
        case.get("logger", "access"),
        case.get("level", logging.INFO),
        CREATED,
        ctx,
        values["route"],
        values["status"],
        values["duration_ms"],
        values["client_ip"],
        cost_values(made_cost(case)),
    )


@pytest.mark.parametrize("scrub", [True, False], ids=["scrubbed", "unscrubbed"])
@pytest.mark.parametrize("field_limit", [4096, 64, 8])
@pytest.mark.parametrize("case", list(cases()), ids=lambda c: repr(c)[:40])
def test_the_assembled_line_is_the_formatters_line(
    case: dict[str, Any], field_limit: int, scrub: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whenever the text is assembled, it is the general path's line to the byte, and a second
    line (from the cached pieces) is too; anything else is left to the general path."""
    formatter = JsonFormatter(field_limit=field_limit, scrub=scrub)
    expected = general_line(formatter, case, monkeypatch)
    for _ in range(2):
        line = fast_line(formatter, case)
        assert line is None or line == expected


@pytest.mark.parametrize(
    "case",
    [{}, TRACE, {"user_id": 42}, {"user_id": UNKNOWN}, {"client_ip": None}, {"request_id": "0123-4567:89ab.cd_ef"}]
    + [{"duration_ms": d} for d in DURATIONS[:14]]
    + [{"cost": cost} for cost in (COSTS[0], COSTS[1], COSTS[3])]
    + [{"level": level} for level in (logging.DEBUG, logging.WARNING, logging.ERROR)],
    ids=repr,
)
def test_plain_values_are_assembled(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual lines do take the assembled path (and write the formatter's line)."""
    formatter = JsonFormatter()
    line = fast_line(formatter, case)
    assert line is not None
    assert line == general_line(formatter, case, monkeypatch)


@pytest.mark.parametrize(
    "case",
    [
        {"path": "/reset/token=abcdef123456/"},  # the scrubber has work to do
        {"path": "/search/?q=1&token=supersecretvalue123"},
        {"user_id": "alice"},  # capped by the general path
        {"duration_ms": math.nan},
        {"status": 10**30},
        {"cost": COSTS[2]},
        {"path": "/" + "p" * 600},  # too long to keep
        {"level": 25},
    ],
    ids=repr,
)
def test_what_needs_work_is_left_to_the_general_path(case: dict[str, Any]) -> None:
    assert fast_line(JsonFormatter(), case) is None


def test_a_secret_in_the_path_never_reaches_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scrubber's verdict is part of what is cached: a changed scrubber is asked again."""
    formatter = JsonFormatter()
    assert fast_line(formatter, {"path": "/orders/order-42/"}) is not None
    strict = Scrubber(extra_patterns=[r"order-\d+"])
    monkeypatch.setattr(formatter, "active_scrubber", lambda: strict)
    assert fast_line(formatter, {"path": "/orders/order-42/"}) is None


def test_the_cache_is_bounded() -> None:
    """A scan of random paths cannot grow the cache past its bound."""
    formatter = JsonFormatter()
    for n in range(_access_json._MAX_SHAPES * 2 + 5):
        assert fast_line(formatter, {"path": f"/scan/{n}/"}) is not None
        assert len(_access_json._shapes) <= _access_json._MAX_SHAPES


def test_durations_are_written_as_the_formatter_writes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The duration's number, written without orjson, is orjson's for durations of every size."""
    formatter = JsonFormatter()
    rng = random.Random(21)
    for _ in range(2000):
        case = {"duration_ms": rng.choice([rng.random(), rng.random() * 1000, 10 ** rng.uniform(-3, 11.9)])}
        assert fast_line(formatter, case) == general_line(formatter, case, monkeypatch)
