"""``LANTERN["DEBUG_ON_ERROR"]``: the DEBUG lines of failed requests and task runs, and only theirs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings
from prometheus_client import REGISTRY

from django_lantern import bind
from django_lantern.conf import build_settings
from django_lantern.context import RequestContext, current
from django_lantern.logging import _held, handlers
from tests import urls_debug_on_error
from tests.conftest import LogCapture

pytestmark = pytest.mark.urls("tests.urls_debug_on_error")

ON = {"DEBUG_ON_ERROR": True}
VIEW_LOGGER = "tests.debug_on_error"


@pytest.fixture(autouse=True)
def _stock_debug() -> Iterator[None]:
    yield
    _held.uninstall()


@pytest.fixture
def client500(client: Client) -> Client:
    client.raise_request_exception = False
    return client


def names(logs: LogCapture) -> list[tuple[str, str]]:
    return [(r.name, r.levelname) for r in logs.records]


def source_line(text: str) -> int:
    """The line of the views' module that holds ``text``."""
    lines = Path(urls_debug_on_error.__file__).read_text().splitlines()
    (number,) = [i for i, line in enumerate(lines, 1) if text in line]
    return number


@contextlib.contextmanager
def view_logger_at(level: int) -> Iterator[None]:
    logger = logging.getLogger(VIEW_LOGGER)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def overflow_total() -> float:
    """The calls let go in this process; with metrics on, ``lantern_log_debug_records_overflow_total`` agrees."""
    counted = handlers.stats()["debug_overflow"]
    exported = REGISTRY.get_sample_value("lantern_log_debug_records_overflow_total")
    assert exported is None or exported == counted
    return counted


@override_settings(LANTERN=ON)
def test_a_500s_debug_lines_come_before_its_error_and_access_lines(logs: LogCapture, client500: Client) -> None:
    response = client500.get("/debug/fail/")
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    order = names(logs)
    debug = [i for i, (name, level) in enumerate(order) if name == VIEW_LOGGER and level == "DEBUG"]
    error = order.index(("django.request", "ERROR"))
    access = order.index(("access", "ERROR"))
    assert len(debug) == 2 and debug[-1] < error < access
    first, second = (logs.records[i] for i in debug)
    assert first.getMessage() == "looked up order order-fail-7"
    assert second.getMessage() == "charging card ending 4242"
    # Their own time and place, not the flush's.
    assert first.created < second.created < logs.records[error].created
    assert second.created - first.created >= 0.015
    assert (first.funcName, first.filename) == ("fail", "urls_debug_on_error.py")
    assert (first.lineno, second.lineno) == (source_line("order-fail-7"), source_line("ending %s"))
    lines = [logs.parsed()[i] for i in debug]
    assert {line["request_id"] for line in lines} == {request_id}
    assert {line["route"] for line in lines} == {"/debug/fail/"}
    assert lines[0]["level"] == "debug"


@override_settings(LANTERN=ON)
def test_a_200s_debug_lines_appear_nowhere(logs: LogCapture, client: Client) -> None:
    assert client.get("/debug/ok/").status_code == 200
    assert "order-ok-7" not in logs.everything()
    assert [r.levelname for r in logs.records if r.name == VIEW_LOGGER] == []
    (access,) = logs.access()
    assert access.levelname == "INFO"


@override_settings(LANTERN=ON)
def test_a_5xx_returned_by_the_view_keeps_them_too(logs: LogCapture, client: Client) -> None:
    assert client.get("/debug/unavailable/").status_code == 503
    order = names(logs)
    assert order.index((VIEW_LOGGER, "DEBUG")) < order.index(("access", "ERROR"))
    assert "upstream answered 503" in logs.everything()


@override_settings(LANTERN={**ON, "SLOW_REQUEST_MS": 0})
def test_a_slow_request_keeps_them(logs: LogCapture, client: Client) -> None:
    assert client.get("/debug/ok/").status_code == 200
    order = names(logs)
    assert order.index((VIEW_LOGGER, "DEBUG")) < order.index(("access", "WARNING"))


@override_settings(LANTERN={**ON, "SLOW_REQUEST_MS": None})
def test_no_slow_threshold_means_only_failures_keep_them(logs: LogCapture, client: Client) -> None:
    client.get("/debug/ok/")
    assert "order-ok-7" not in logs.everything()


async def test_async_views_too(logs: LogCapture, async_client: AsyncClient, settings: Any) -> None:
    settings.LANTERN = ON
    async_client.raise_request_exception = False
    assert (await async_client.get("/debug/aok/")).status_code == 200
    assert "order-aok-7" not in logs.everything()
    response = await async_client.get("/debug/afail/")
    assert response.status_code == 500
    order = names(logs)
    debug = order.index((VIEW_LOGGER, "DEBUG"))
    assert debug < order.index(("django.request", "ERROR")) < order.index(("access", "ERROR"))
    assert logs.parsed()[debug]["request_id"] == response.headers["X-Request-Id"]
    assert logs.records[debug].funcName == "afail"


@override_settings(LANTERN={**ON, "DEBUG_ON_ERROR_RECORDS": 200})
def test_overflow_keeps_the_last_calls_and_is_counted(logs: LogCapture, client500: Client) -> None:
    before = overflow_total()
    client500.get("/debug/many/")
    rows = [r.getMessage() for r in logs.records if r.name == VIEW_LOGGER]
    assert rows == [f"row {i}" for i in range(50, 250)]
    (gap,) = [line for line in logs.parsed() if line.get("debug_dropped") is not None]
    assert gap["debug_dropped"] == 50 and gap["logger"] == "django_lantern.logging"
    assert overflow_total() == before + 50
    order = [r.getMessage() for r in logs.records]
    assert order.index(gap["message"]) < order.index("row 50")


@override_settings(LANTERN=ON)
def test_written_lines_go_through_the_scrubber(logs: LogCapture, client500: Client) -> None:
    client500.get("/debug/secret/")
    assert "calling upstream with password=" in "\n".join(logs.json_lines)
    assert "hunter2-debug-secret" not in "\n".join(logs.json_lines + logs.text_lines)


@override_settings(LANTERN=ON)
def test_an_error_line_in_the_view_writes_them_first(logs: LogCapture, client: Client) -> None:
    """Any ERROR record of the request (here the view's own, on a 200) is preceded
    by the DEBUG lines held so far; the exception of the moment of the call is kept."""
    assert client.get("/debug/handled/").status_code == 200
    order = names(logs)
    assert order.index((VIEW_LOGGER, "DEBUG")) < order.index((VIEW_LOGGER, "ERROR"))
    debug = logs.parsed()[order.index((VIEW_LOGGER, "DEBUG"))]
    assert debug["exc_type"] == "KeyError" and "missing-key-7" in debug["exc_message"]


@override_settings(LANTERN=ON)
def test_an_enabled_logger_writes_at_once_from_its_caller(logs: LogCapture, client: Client) -> None:
    """A logger at DEBUG is not buffered: its line is written when made, naming the view."""
    with view_logger_at(logging.DEBUG):
        client.get("/debug/ok/")
    (line,) = [r for r in logs.records if r.name == VIEW_LOGGER]
    assert (line.funcName, line.filename) == ("ok", "urls_debug_on_error.py")
    assert logs.records.index(line) < logs.records.index(logs.access()[0])


@override_settings(LANTERN=ON)
def test_a_logger_set_above_info_is_not_buffered(logs: LogCapture, client500: Client) -> None:
    with view_logger_at(logging.WARNING):
        client500.get("/debug/fail/")
    assert "order-fail-7" not in logs.everything()


def test_off_by_default_nothing_changes(logs: LogCapture, client500: Client) -> None:
    client500.get("/debug/fail/")
    assert logging.Logger.debug is _held._stock_debug
    assert "order-fail-7" not in logs.everything()


def test_outside_a_run_a_debug_call_is_dropped_as_before(logs: LogCapture) -> None:
    _held.install()
    logging.getLogger(VIEW_LOGGER).debug("outside %s", "any-run")
    with bind(job="x"):
        logging.getLogger(VIEW_LOGGER).debug("inside a bind %s", "no-buffer")
    assert "any-run" not in logs.everything() and "no-buffer" not in logs.everything()


def test_a_bind_inside_a_run_shares_its_buffer_and_keeps_its_fields(logs: LogCapture) -> None:
    ctx = RequestContext("run-1", "GET", "/x", None)
    token = current.set(ctx)
    try:
        _held.begin(ctx, 10)
        with bind(step="charge"):
            logging.getLogger(VIEW_LOGGER).debug("in the bind")
        logging.getLogger(VIEW_LOGGER).debug("after it")
        assert logs.records == []
        _held.settle(ctx, keep=True)
    finally:
        current.reset(token)
    first, second = [line for line in logs.parsed() if line["logger"] == VIEW_LOGGER]
    assert (first["message"], first["step"], first["request_id"]) == ("in the bind", "charge", "run-1")
    assert second["message"] == "after it" and "step" not in second


def test_the_settings_are_validated() -> None:
    _, errors = build_settings({"DEBUG_ON_ERROR": "yes", "DEBUG_ON_ERROR_RECORDS": 0})
    assert any("DEBUG_ON_ERROR'" in e for e in errors)
    assert any("DEBUG_ON_ERROR_RECORDS" in e and "from 1 to 10000" in e for e in errors)
    _, errors = build_settings({"DEBUG_ON_ERROR_RECORDS": 10001})
    assert errors


@override_settings(LANTERN=ON)
def test_a_failing_django_task_writes_them_before_its_error_and_task_lines(logs: LogCapture) -> None:
    from tests.jobs import djtasks_jobs as jobs
    from tests.jobs.test_djtasks import IMMEDIATE

    with override_settings(TASKS=IMMEDIATE):
        jobs.debug_then_succeed.enqueue()
        jobs.explode_after_debug.enqueue()
    assert "djtask-quiet-7" not in logs.everything()
    order = names(logs)
    debug = order.index(("tests.djtasks", "DEBUG"))
    task_line = order.index(("lantern.task", "ERROR"))
    framework_error = next(i for i, (name, level) in enumerate(order) if level == "ERROR" and name != "lantern.task")
    assert debug < framework_error < task_line
    lines = logs.parsed()
    assert lines[debug]["request_id"] == lines[task_line]["request_id"] != "-"
    assert lines[debug]["task_name"] == "tests.jobs.djtasks_jobs.explode_after_debug"


@override_settings(LANTERN=ON)
def test_a_failing_celery_task_writes_them_before_celerys_error_line(logs: LogCapture) -> None:
    from celery import Celery

    from django_lantern import celery as lantern_celery

    app = lantern_celery.instrument(Celery("debug-on-error"))
    task_logger = logging.getLogger("tests.celery.debug")

    @app.task(name="debug.fails")
    def fails() -> None:
        task_logger.debug("celery step %s", "celery-step-7")
        raise ValueError("celery task failed")

    @app.task(name="debug.works")
    def works() -> None:
        task_logger.debug("celery step %s", "celery-quiet-7")

    works.apply()
    fails.apply()
    assert "celery-quiet-7" not in logs.everything()
    order = names(logs)
    debug = order.index(("tests.celery.debug", "DEBUG"))
    celery_error = order.index(("celery.app.trace", "ERROR"))
    assert debug < celery_error < order.index(("lantern.task", "ERROR"))
    assert logs.parsed()[debug]["task_name"] == "debug.fails"


def test_at_most_a_mebibyte_of_messages_is_written_the_newest_kept(logs: LogCapture) -> None:
    ctx = RequestContext("run-big", "GET", "/x", None)
    token = current.set(ctx)
    before = overflow_total()
    try:
        _held.begin(ctx, 200)
        for i in range(5):
            logging.getLogger(VIEW_LOGGER).debug("body %d %s", i, "x" * 300_000)
        _held.settle(ctx, keep=True)
    finally:
        current.reset(token)
    bodies = [r.getMessage()[:6] for r in logs.records if r.name == VIEW_LOGGER]
    assert bodies == ["body 2", "body 3", "body 4"]
    (gap,) = [line for line in logs.parsed() if line.get("debug_dropped") is not None]
    assert gap["debug_dropped"] == 2
    assert overflow_total() == before + 2


class _Plain(logging.Handler):
    """A handler without lantern's context filter: only the exception receivers can order the lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.name, record.levelname))


@override_settings(LANTERN=ON)
def test_without_the_context_filter_the_exception_receivers_still_write_them_first(client500: Client) -> None:
    from celery import Celery

    from django_lantern import celery as lantern_celery

    plain = _Plain()
    root = logging.getLogger()
    configured = root.handlers
    root.handlers = [plain]  # the configured console handler carries the filter
    try:
        client500.get("/debug/fail/")
        app = lantern_celery.instrument(Celery("debug-plain"))

        @app.task(name="debug.plain_fails")
        def fails() -> None:
            logging.getLogger(VIEW_LOGGER).debug("celery step")
            raise ValueError("celery task failed")

        fails.apply()
    finally:
        root.handlers = configured
    seen = plain.seen
    request_error = seen.index(("django.request", "ERROR"))
    celery_error = seen.index(("celery.app.trace", "ERROR"))
    debug = [i for i, item in enumerate(seen) if item == (VIEW_LOGGER, "DEBUG")]
    assert len(debug) == 3
    assert debug[1] < request_error < debug[2] < celery_error
