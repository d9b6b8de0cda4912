"""Repeated errors: the stack of one error is written once per interval, the copies folded and counted.

Through the real filters and formatters on a real handler; the interval's
clock is a fake one the tests move, so nothing sleeps.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils.module_loading import import_string

from django_lantern.logging import RequestContextFilter, build_logging_config
from django_lantern.logging._access_record import make_access_record
from django_lantern.logging._folding import RepeatBudget, error_fingerprint
from django_lantern.logging.filters import RepeatedErrorFilter
from django_lantern.logging.handlers import stats
from django_lantern.logging.schemas import FORMATS, FORMATTERS
from tests.helpers.integrations import SentryEndpoint, flush_sentry

INTERVAL = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sink:
    """A logger whose one handler has the context filter, the repeat filter (fake clock) and a formatter."""

    def __init__(self, log_format: str = "json", interval: float = INTERVAL, max_errors: int = 1024) -> None:
        self.clock = Clock()
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(import_string(FORMATTERS[log_format])())
        self.repeats = RepeatedErrorFilter(interval=interval, max_errors=max_errors)
        self.repeats.budget = RepeatBudget(max_errors, clock=self.clock)
        self.handler.addFilter(RequestContextFilter())
        self.handler.addFilter(self.repeats)
        self.logger = logging.getLogger(f"tests.folding.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)

    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)


@pytest.fixture
def sink() -> Iterator[Sink]:
    made = Sink()
    yield made
    made.close()


def _lookup(customer: int) -> None:
    raise KeyError(f"customer {customer} has no plan")  # the message varies, the stack does not


def _other_lookup(customer: int) -> None:
    raise KeyError(f"customer {customer} has no plan")


def fail(logger: logging.Logger, n: int = 0, route: str = "orders/<int:pk>/", raiser: Any = _lookup) -> None:
    """One unhandled error, logged as Django's ``django.request`` logs it (one call site)."""
    try:
        raiser(n)
    except KeyError:
        logger.error("Internal Server Error: %s", f"/orders/{n}/", exc_info=True, extra={"route": route})


def test_a_thousand_identical_errors_write_one_stack_and_count_the_rest(sink: Sink) -> None:
    """1,000 identical errors (the message differs by a value): one full line; 999 folded, counted
    (also in ``lantern_log_records_folded_total``); the bytes stay those of one line."""
    before = stats()["folded"]
    for n in range(1000):
        fail(sink.logger, n)
    lines = sink.lines()
    assert len(lines) == 1
    assert lines[0]["exc_type"] == "KeyError" and "_lookup" in lines[0]["stack"]
    assert "folded" not in lines[0]
    assert stats()["folded"] - before == 999
    assert len(sink.text().encode()) < 2_000


def test_after_the_interval_a_full_line_says_how_many_were_folded(sink: Sink) -> None:
    """A full line again once the interval has passed, with ``folded`` = the copies since the last one;
    the counts over the full lines add up to every error."""
    for n in range(400):
        fail(sink.logger, n)
    sink.clock.now += INTERVAL - 0.001
    fail(sink.logger)  # still inside the interval
    sink.clock.now += 0.001
    fail(sink.logger)
    for n in range(598):
        fail(sink.logger, n)
    sink.clock.now += INTERVAL
    fail(sink.logger)
    lines = sink.lines()
    assert [line.get("folded") for line in lines] == [None, 400, 598]
    assert len(lines) + sum(line.get("folded", 0) for line in lines) == 1001
    assert all("stack" in line for line in lines)


def test_different_errors_are_not_folded_together(sink: Sink) -> None:
    """Another route, another stack, another exception type or another logging call: each its own first line."""
    fail(sink.logger)
    fail(sink.logger, route="invoices/<int:pk>/")
    fail(sink.logger, raiser=_other_lookup)
    try:
        _lookup(1)
    except KeyError:
        sink.logger.exception("another call site", extra={"route": "orders/<int:pk>/"})
    try:
        raise ValueError("other type")
    except ValueError:
        sink.logger.error("Internal Server Error", exc_info=True, extra={"route": "orders/<int:pk>/"})
    for _ in range(3):  # and each of them folds its own copies
        fail(sink.logger)
        fail(sink.logger, route="invoices/<int:pk>/")
    lines = sink.lines()
    assert len(lines) == 5
    assert [line["exc_type"] for line in lines] == ["KeyError"] * 4 + ["ValueError"]


@pytest.mark.parametrize("log_format", FORMATS)
def test_every_format_shows_folded(log_format: str) -> None:
    """json, text, ecs, gcp and datadog: the full line after folding carries ``folded`` (text: ``folded=3``)."""
    sink = Sink(log_format)
    try:
        for n in range(4):
            fail(sink.logger, n)
        sink.clock.now += INTERVAL
        fail(sink.logger)
    finally:
        sink.close()
    if log_format == "text":
        records = [block for block in sink.text().splitlines() if not block.startswith(" ")]
        assert len(records) == 2
        assert "folded=" not in records[0] and " folded=3" in records[1]
        assert sink.text().count("_lookup") == 2  # both full lines have their stack
        return
    lines = sink.lines()
    assert len(lines) == 2
    assert "folded" not in lines[0] and lines[1]["folded"] == 3
    assert all("_lookup" in json.dumps(line) for line in lines)


def test_records_without_an_exception_are_untouched(sink: Sink) -> None:
    """Identical messages and error lines without an exception are not this rule's business."""
    for _ in range(5):
        sink.logger.error("disk almost full")
        sink.logger.info("hello")
    lines = sink.lines()
    assert len(lines) == 10
    assert all("folded" not in line and "lantern_fold" not in line for line in lines)


def test_an_access_line_is_never_dropped_only_its_stack(sink: Sink) -> None:
    """A streaming body that failed puts its exception on the access line: every request keeps
    its line, the repeated ones without the stack."""
    access = sink.logger
    for n in range(3):
        try:
            _lookup(n)
        except KeyError as exc:
            record = make_access_record(
                access,
                logging.ERROR,
                request_id=f"rid-{n}",
                method="GET",
                path="/export/",
                route="export/",
                status=200,
                duration_ms=1.0,
                user_id=None,
                client_ip=None,
                error=exc,
            )
            access.handle(record)
    lines = sink.lines()
    assert [line["request_id"] for line in lines] == ["rid-0", "rid-1", "rid-2"]
    assert "stack" in lines[0]
    assert [("stack" in line, line["exc_type"]) for line in lines[1:]] == [(False, "KeyError")] * 2


def test_the_record_keeps_its_exception_for_the_handlers_after_it() -> None:
    """The filter only marks the record: a second handler (and Sentry's logging integration,
    which reads the record after every handler) still sees ``exc_info``; one shared filter
    decides once per record, so a second handler writes what the first wrote."""
    sink = Sink()
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    second_stream = io.StringIO()
    second = logging.StreamHandler(second_stream)
    second.setFormatter(import_string(FORMATTERS["json"])())
    second.addFilter(sink.repeats)
    sink.logger.addHandler(second)
    sink.logger.addHandler(Keep())
    try:
        for n in range(5):
            fail(sink.logger, n)
    finally:
        sink.close()
    assert len(seen) == 5 and all(record.exc_info and record.exc_info[1] for record in seen)
    assert len(sink.lines()) == 1 and len(second_stream.getvalue().splitlines()) == 1


def test_sentry_still_gets_every_error(sentry: Any, sentry_endpoint: SentryEndpoint) -> None:
    """sentry-sdk's logging integration reads the record after the handlers: folding in our
    handler takes nothing from it (it groups and rate-limits on its side)."""
    sentry()
    sink = Sink()
    sink.logger.propagate = True  # Sentry's integration reads records at every logger
    try:
        for n in range(5):
            fail(sink.logger, n)
    finally:
        sink.close()
    flush_sentry()
    events = sentry_endpoint.events()
    assert len(sink.lines()) == 1
    assert len([e for e in events if e.get("logger", "").startswith("tests.folding")]) == 5


def test_the_table_is_bounded_and_a_new_error_is_always_written() -> None:
    """Past ``max_errors`` errors the least recently seen is forgotten; no error is ever refused."""
    sink = Sink(max_errors=4)
    try:
        routes = [f"r{n}/" for n in range(10)]
        for route in routes:
            fail(sink.logger, route=route)
        fail(sink.logger, route="r9/")  # remembered: folded
        fail(sink.logger, route="r0/")  # forgotten: written again
    finally:
        sink.close()
    assert len(sink.repeats.budget) == 4
    assert [line["route"] for line in sink.lines()] == [*routes, "r0/"]


def test_threads_fold_exactly() -> None:
    """8 threads log the same error 125 times each: one line, 999 folded, none lost or doubled."""
    sink = Sink()
    before = stats()["folded"]
    start = threading.Barrier(8)

    def run() -> None:
        start.wait()
        for n in range(125):
            fail(sink.logger, n)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sink.close()
    assert len(sink.lines()) == 1
    assert stats()["folded"] - before == 999


def test_a_fault_in_the_rule_writes_the_record_and_is_counted(sink: Sink, internal_errors: dict[str, int]) -> None:
    """Better a repeated stack than a lost one: the record is written, the fault counted."""

    def broken(key: int, interval: float) -> int | None:
        raise RuntimeError("table broken")

    sink.repeats.budget.admit = broken  # type: ignore[method-assign]
    fail(sink.logger)
    fail(sink.logger)
    assert len(sink.lines()) == 2 and internal_errors == {"log_fold": 2}


def test_interval_zero_writes_every_error() -> None:
    sink = Sink(interval=0)
    try:
        for n in range(3):
            fail(sink.logger, n)
    finally:
        sink.close()
    assert len(sink.lines()) == 3


def test_build_logging_config_installs_it_with_its_interval() -> None:
    """On the console handler, after the context filter; ``0`` leaves it out; a negative interval is refused."""
    config = build_logging_config(repeated_error_interval=5)
    assert config["handlers"]["console"]["filters"] == ["skip_healthy_probes", "request_context", "repeated_errors"]
    assert config["filters"]["repeated_errors"]["interval"] == 5
    assert "repeated_errors" not in build_logging_config(repeated_error_interval=0)["filters"]
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="repeated_error_interval"):
        build_logging_config(repeated_error_interval=-1)


def test_the_fingerprint_ignores_the_message_and_follows_the_causes() -> None:
    """Same frames and a different message: the same error. A different cause: another error."""

    def record_of(exc: BaseException) -> logging.LogRecord:
        return logging.LogRecord("t", logging.ERROR, __file__, 1, "x", None, (type(exc), exc, exc.__traceback__))

    def wrapped(cause: type[Exception], message: str) -> BaseException:
        try:
            try:
                raise cause(message)
            except Exception as inner:
                raise RuntimeError("wrapped") from inner
        except RuntimeError as outer:
            return outer

    assert error_fingerprint(record_of(wrapped(KeyError, "a"))) == error_fingerprint(record_of(wrapped(KeyError, "b")))
    assert error_fingerprint(record_of(wrapped(KeyError, "a"))) != error_fingerprint(record_of(wrapped(OSError, "a")))
