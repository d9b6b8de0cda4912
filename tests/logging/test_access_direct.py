"""The direct access path writes the bytes the record path writes, and only when nothing else would see the record.

``logging/_access_direct.py`` formats the access line without a ``LogRecord``
when the access logger's one handler, formatter and filters are ours. These
tests write the same requests both ways (the record path forced by a no-op
filter on the logger) with the clock fixed, across every format, hostile
values, sync and async callers, and check which configurations switch paths.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from _pytest.logging import LogCaptureHandler
from django.test import Client, RequestFactory
from django.test.client import AsyncClient

from django_lantern import _cost
from django_lantern.conf import LanternSettings, get_settings
from django_lantern.context import UNKNOWN, RequestContext
from django_lantern.logging import _access_direct, _access_log
from django_lantern.logging._access_log import AccessLog
from django_lantern.logging.filters import RepeatedErrorFilter, RequestContextFilter, SkipHealthyProbes
from django_lantern.logging.formatters import JsonFormatter, TextFormatter
from django_lantern.logging.handlers import NonBlockingStreamHandler, SafeStreamHandler
from django_lantern.logging.schemas import DatadogFormatter, EcsFormatter, GcpFormatter, SchemaFormatter
from tests.conftest import CORE_URLS
from tests.logging.test_access_fields import METHODS, PATHS, USER_IDS

NAME = "lantern.test.direct_access"
FORMATTERS: list[Callable[[], logging.Formatter]] = [
    JsonFormatter,
    TextFormatter,
    EcsFormatter,
    GcpFormatter,
    DatadogFormatter,
    lambda: SchemaFormatter(field_map={"message": "msg"}),
    lambda: JsonFormatter(field_limit=64),
]
FORMAT_IDS = ["json", "text", "ecs", "gcp", "datadog", "json-field-map", "json-limit-64"]
TRACE = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
ROUTES = ["items/<int:pk>/", "/", UNKNOWN, 'q/"x"\n<evil>', "r" * 5000]


def cases() -> Iterator[dict[str, Any]]:
    for path in PATHS:
        yield {"path": path}
    for method in METHODS:
        yield {"method": method}
    for user_id in [*USER_IDS, UNKNOWN, -5, "ünï\u202e", "\ud800"]:
        yield {"user_id": user_id}
    for route in ROUTES:
        yield {"route": route}
    yield {"trace": TRACE}
    yield {"trace": TRACE, "user_id": 42, "status": 503, "duration_ms": 2000.0}
    yield {"status": 404, "request_id": "r" * 5000, "peer": None}
    yield {"peer": "2001:db8::1", "duration_ms": 0.005}
    yield {"path": "/a\x00b\x1b[31m/\u2028", "user_id": "a\nb", "duration_ms": 1e12}
    # The default format's assembled line (``_access_json.py``) and what it leaves to the general path.
    yield {"path": "/search/?q=1&token=supersecretvalue123", "request_id": "0123-4567:89ab.cd_ef"}
    for duration_ms in (0.0, 0.005, 1.005, 2.675, 999.995, -1.0):
        yield {"duration_ms": duration_ms, "user_id": 2**63}
    # What the request cost (``_cost.py``): counted, none, huge, and its CPU time read in another thread.
    yield {"cost": {"db_queries": 25, "db_seconds": 0.0123456, "db_duplicates": 3, "cache_hits": 2}}
    yield {"cost": {"cache_misses": 1, "outbound_calls": 4, "outbound_seconds": 1.5, "response_bytes": 0}}
    yield {"cost": {"db_queries": 10**12, "db_seconds": 1e9, "response_bytes": 2**62, "cpu_started": -1e6}}
    yield {"cost": {"thread": -1}}


@pytest.fixture
def cfg() -> LanternSettings:
    return dataclasses.replace(get_settings(), access_logger=NAME, access_log_skip=(), access_log_sample=())


# ``Logger``'s own steps, read at collection: a test that starts Sentry leaves its
# ``callHandlers`` wrapper installed, and with it every access line is a record.
STOCK_STEPS = {step: vars(logging.Logger)[step] for step in ("makeRecord", "handle", "callHandlers")}


@pytest.fixture
def stock_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Logger`` as the standard library defines it, for this test."""
    for step, stock in STOCK_STEPS.items():
        monkeypatch.setattr(logging.Logger, step, stock)


@pytest.fixture
def access_logger(stock_logger: None) -> Iterator[logging.Logger]:
    logger = logging.getLogger(NAME)
    saved = (logger.handlers[:], logger.filters[:], logger.propagate, logger.level)
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger
    finally:
        logger.handlers[:], logger.filters[:] = saved[0], saved[1]
        logger.propagate = saved[2]
        logger.setLevel(saved[3])


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The records this test's writes built: "record" for each (the direct path builds none).

    Only this thread's: a server thread another test left behind may still
    be finishing a request of its own.
    """
    taken: list[str] = []
    real = _access_log.make_access_record
    here = threading.get_ident()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        if threading.get_ident() == here:
            taken.append("record")
        return real(*args, **kwargs)

    monkeypatch.setattr(_access_log, "make_access_record", counting)
    return taken


def our_handler(
    logger: logging.Logger, formatter: logging.Formatter, handler_class: type = SafeStreamHandler
) -> io.StringIO:
    """The handler ``build_logging_config`` gives the access logger, writing to a buffer.

    pytest 9 attaches its capture handler to every non-propagating logger for
    the test's call: removed here, so the logger has only ours.
    """
    logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, LogCaptureHandler)]
    stream = io.StringIO()
    handler = handler_class(stream)
    handler.setFormatter(formatter)
    handler.addFilter(SkipHealthyProbes())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RepeatedErrorFilter())
    logger.addHandler(handler)
    return stream


def context(case: dict[str, Any]) -> RequestContext:
    peer = case.get("peer", "203.0.113.9")
    request = RequestFactory().get("/", REMOTE_ADDR=peer) if peer else RequestFactory().get("/")
    if not peer:
        del request.META["REMOTE_ADDR"]
    request.resolver_match = SimpleNamespace(route=case.get("route", "data/"))  # type: ignore[assignment]
    ctx = RequestContext(
        case.get("request_id", "0123456789abcdef"), case.get("method", "GET"), case.get("path", "/data/"), request
    )
    ctx.user_id = case.get("user_id")
    for name, value in case.get("cost", {}).items():
        setattr(ctx.cost, name, value)
    if "trace" in case:
        ctx.trace_id, ctx.span_id = case["trace"]
        ctx.trace_sampled = True
    return ctx


def write(log: AccessLog, case: dict[str, Any], cfg: LanternSettings) -> None:
    log.write(context(case), cfg, case.get("status", 200), case.get("duration_ms", 1.25))


def both_paths(
    logger: logging.Logger,
    stream: io.StringIO,
    case: dict[str, Any],
    cfg: LanternSettings,
    paths: list[str],
    run: Callable[[Callable[[], None]], None],
) -> tuple[str, str]:
    """The line written directly, then the same request's line through the record path."""
    log = AccessLog()
    run(lambda: write(log, case, cfg))
    direct = stream.getvalue()
    assert paths == [], state(logger)
    stream.seek(0)
    stream.truncate()
    logger.addFilter(logging.Filter())  # passes everything, but is not ours: the record path
    run(lambda: write(log, case, cfg))
    assert paths == ["record"]
    return direct, stream.getvalue()


def freeze(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    """Both clocks a ``LogRecord`` may read (``time_ns`` from Python 3.13), at ``now``, and
    the thread's CPU clock the cost's ``cpu_ms`` reads (0.5 s after every scope's start)."""
    monkeypatch.setattr("time.time", lambda: now)
    monkeypatch.setattr(_access_direct, "created_now", lambda: now)
    monkeypatch.setattr("time.time_ns", lambda: int(now * 1e9))
    monkeypatch.setattr(_cost, "_thread_time", lambda: 0.5)


def state(logger: logging.Logger) -> str:
    """What the direct path's decision reads, short enough for a failure's message."""
    handler = logger.handlers[0] if logger.handlers else None
    steps = [getattr(logging.Logger, step).__module__ for step in ("makeRecord", "handle", "callHandlers")]
    return (
        f"handlers={[type(h).__name__ for h in logger.handlers]} filters={logger.filters} "
        f"handler_filters={[type(f).__name__ for f in getattr(handler, 'filters', [])]} "
        f"formatter={type(getattr(handler, 'formatter', None)).__name__} propagate={logger.propagate} "
        f"disabled={logger.disabled} class={type(logger).__name__} "
        f"factory={logging.getLogRecordFactory()} steps={steps}"
    )


def run_sync(call: Callable[[], None]) -> None:
    call()


def run_async(call: Callable[[], None]) -> None:
    async def inside() -> None:
        call()

    asyncio.run(inside())


@pytest.mark.parametrize("run", [run_sync, run_async], ids=["sync", "async"])
@pytest.mark.parametrize("make_formatter", FORMATTERS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", list(cases()), ids=lambda c: repr(c)[:40])
def test_direct_line_equals_record_line(
    make_formatter: Callable[[], logging.Formatter],
    case: dict[str, Any],
    run: Callable[[Callable[[], None]], None],
    access_logger: logging.Logger,
    cfg: LanternSettings,
    paths: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every format writes the same bytes both ways, whatever the client sent."""
    freeze(monkeypatch, 1764000000.0625)
    stream = our_handler(access_logger, make_formatter())
    direct, record = both_paths(access_logger, stream, case, cfg, paths, run)
    assert direct == record
    assert direct.count("\n") == 1 and direct.endswith("\n")


@pytest.mark.parametrize("user_id", [None, 7, uuid.UUID(int=5)])
def test_non_blocking_handler_gets_the_same_line(
    user_id: Any, access_logger: logging.Logger, cfg: LanternSettings, paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ``NonBlockingStreamHandler``'s queue, both paths write the same line."""
    freeze(monkeypatch, 1764000000.5)
    stream = our_handler(access_logger, EcsFormatter(), NonBlockingStreamHandler)
    handler = access_logger.handlers[0]

    def run(call: Callable[[], None]) -> None:
        call()
        handler.flush()

    direct, record = both_paths(access_logger, stream, {"user_id": user_id, "trace": TRACE}, cfg, paths, run)
    assert direct == record != ""


def user_handler(logger: logging.Logger) -> None:
    logger.addHandler(logging.StreamHandler(io.StringIO()))


class SubclassedHandler(SafeStreamHandler):
    pass


def subclassed_handler(logger: logging.Logger) -> None:
    ours = logger.handlers[0]
    theirs = SubclassedHandler(io.StringIO())
    theirs.setFormatter(ours.formatter)
    logger.removeHandler(ours)
    logger.addHandler(theirs)


def user_formatter(logger: logging.Logger) -> None:
    logger.handlers[0].setFormatter(logging.Formatter("%(message)s"))


def user_handler_filter(logger: logging.Logger) -> None:
    logger.handlers[0].addFilter(lambda record: True)


def propagating(logger: logging.Logger) -> None:
    logger.propagate = True


def record_factory(logger: logging.Logger) -> None:
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(lambda *args, **kwargs: factory(*args, **kwargs))


@pytest.mark.parametrize(
    "change",
    [user_handler, subclassed_handler, user_formatter, user_handler_filter, propagating, record_factory],
)
def test_any_other_configuration_takes_the_record_path(
    change: Callable[[logging.Logger], None], access_logger: logging.Logger, cfg: LanternSettings, paths: list[str]
) -> None:
    """Another handler, a subclass, another formatter, a filter not ours, propagation, a record factory."""
    our_handler(access_logger, JsonFormatter())
    log = AccessLog()
    write(log, {}, cfg)
    assert paths == []
    factory = logging.getLogRecordFactory()
    try:
        change(access_logger)
        write(log, {}, cfg)
    finally:
        logging.setLogRecordFactory(factory)
    assert paths == ["record"]


def test_a_replaced_logger_step_takes_the_record_path(
    access_logger: logging.Logger, cfg: LanternSettings, paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An integration that wraps ``Logger.callHandlers`` (Sentry's does) sees every access record."""
    our_handler(access_logger, JsonFormatter())
    seen: list[logging.LogRecord] = []
    real = logging.Logger.callHandlers

    def wrapped(self: logging.Logger, record: logging.LogRecord) -> None:
        seen.append(record)
        real(self, record)

    monkeypatch.setattr(logging.Logger, "callHandlers", wrapped)
    write(AccessLog(), {}, cfg)
    assert paths == ["record"] and len(seen) == 1


def test_assert_logs_and_caplog_see_the_line(
    access_logger: logging.Logger, cfg: LanternSettings, paths: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """``assertLogs`` replaces the handlers and ``caplog`` adds one: both get the record."""
    stream = our_handler(access_logger, JsonFormatter())
    log = AccessLog()
    write(log, {}, cfg)
    import unittest

    case = unittest.TestCase()
    with case.assertLogs(NAME, level="INFO") as seen:
        write(log, {"path": "/seen/"}, cfg)
    assert "path=/seen/" in seen.output[0]
    with caplog.at_level(logging.INFO, logger=NAME):
        access_logger.addHandler(caplog.handler)
        try:
            write(log, {"path": "/caught/"}, cfg)
        finally:
            access_logger.removeHandler(caplog.handler)
    assert any("path=/caught/" in r.getMessage() for r in caplog.records)
    write(log, {"path": "/back/"}, cfg)  # the handlers restored: direct again
    assert paths == ["record", "record"]
    assert stream.getvalue().count("\n") == 3  # the direct lines, and the caplog one through our handler too


def test_reconfiguring_logging_switches_paths(cfg: LanternSettings, paths: list[str], stock_logger: None) -> None:
    """``dictConfig`` at run time: our configuration goes direct, a user's goes through records, and back."""
    from django_lantern.logging import build_logging_config

    logger = logging.getLogger(NAME)
    saved = (logger.handlers[:], logger.propagate, logger.level, logger.disabled)
    ours = build_logging_config(access_logger=NAME, stream="ext://sys.stderr", log_format="json")
    ours["root"] = {"level": logging.getLevelName(logging.getLogger().level)}  # the root's handlers are left alone
    theirs = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"plain": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
        "loggers": {NAME: {"handlers": ["plain"], "level": "INFO", "propagate": False}},
    }
    log = AccessLog()
    try:
        for config in (ours, theirs, ours):
            logging.config.dictConfig(config)
            write(log, {}, cfg)
    finally:
        logger.handlers[:] = saved[0]
        logger.propagate, logger.disabled = saved[1], saved[3]
        logger.setLevel(saved[2])
    assert paths == ["record"]


def test_lines_the_filters_change_take_the_record_path(
    access_logger: logging.Logger, cfg: LanternSettings, paths: list[str]
) -> None:
    """An exception (``RepeatedErrorFilter`` folds its stack), a streaming outcome, bound fields."""
    stream = our_handler(access_logger, JsonFormatter())
    log = AccessLog()
    log.write(context({}), cfg, 500, 1.0, error=ValueError("boom"))
    log.write(context({}), cfg, 200, 1.0, outcome="abandoned")
    ctx = context({})
    ctx.fields = {"order_id": 5}
    log.write(ctx, cfg, 200, 1.0)
    assert paths == ["record"] * 3
    lines = stream.getvalue().splitlines()
    assert '"exc_type":"ValueError"' in lines[0] and '"order_id":5' in lines[2]


def test_handler_level_and_disabled_logger_are_honoured(
    access_logger: logging.Logger, cfg: LanternSettings, paths: list[str]
) -> None:
    """A handler above the line's level writes nothing; a disabled logger writes nothing."""
    stream = our_handler(access_logger, JsonFormatter())
    access_logger.handlers[0].setLevel(logging.WARNING)
    log = AccessLog()
    write(log, {}, cfg)
    assert stream.getvalue() == "" and paths == []
    access_logger.handlers[0].setLevel(logging.NOTSET)
    access_logger.disabled = True
    try:
        write(log, {}, cfg)
    finally:
        access_logger.disabled = False
    assert stream.getvalue() == ""


def test_a_failed_write_is_counted(access_logger: logging.Logger, cfg: LanternSettings, paths: list[str]) -> None:
    """A stream that raises is counted as a log error, as the handler's ``handleError`` counts it."""
    from django_lantern.logging.handlers import stats

    stream = our_handler(access_logger, JsonFormatter())
    stream.close()
    before = stats()["errors"]
    write(AccessLog(), {}, cfg)
    assert stats()["errors"] == before + 1 and paths == []


@pytest.fixture
def default_access(logging_state: None, stock_logger: None) -> None:
    """The ``access`` logger without handlers or filters, not propagating (restored after)."""
    logger = logging.getLogger(get_settings().access_logger)
    logger.handlers.clear()
    logger.filters.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)


@pytest.mark.urls(CORE_URLS)
def test_a_request_through_the_middleware_goes_direct(client: Client, default_access: None, paths: list[str]) -> None:
    """A sync request in the default configuration: one line, no record."""
    logger = logging.getLogger(get_settings().access_logger)
    stream = our_handler(logger, JsonFormatter())  # again: pytest attached its handler for the call
    client.get("/ok/", headers={"X-Request-Id": "direct-1"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert paths == [] and len(lines) == 1
    assert lines[0]["request_id"] == "direct-1" and lines[0]["status"] == 200


@pytest.mark.urls(CORE_URLS)
async def test_an_async_request_through_the_middleware_goes_direct(
    async_client: AsyncClient, default_access: None, paths: list[str]
) -> None:
    """An async request in the default configuration: one line, no record."""
    logger = logging.getLogger(get_settings().access_logger)
    stream = our_handler(logger, JsonFormatter())
    await async_client.get("/ok/", headers={"X-Request-Id": "direct-2"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert paths == [] and len(lines) == 1 and lines[0]["request_id"] == "direct-2"
