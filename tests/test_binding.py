"""``bind()`` and ``propagate()``: log context outside requests, nesting, threads."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import AsyncClient, Client

from django_lantern import bind, propagate
from django_lantern.binding import MAX_FIELDS, ContextThreadPoolExecutor
from django_lantern.context import get_context, get_request_id
from tests.conftest import LogCapture

logger = logging.getLogger("tests.binding")
URLS = "tests.urls_binding"


def _lines(logs: LogCapture, message: str) -> list[dict[str, object]]:
    return [line for line in logs.parsed() if line["message"] == message]


def test_with_outside_a_request_binds_a_fresh_id_and_fields(logs: LogCapture) -> None:
    """Outside a request ``with bind()`` gives every record a new 32-hex id and the fields."""
    with bind(job="nightly"):
        rid = get_request_id()
        logger.info("one")
        logger.info("two")
    logger.info("after")
    assert len(rid) == 32 and int(rid, 16) >= 0
    one, two = _lines(logs, "one")[0], _lines(logs, "two")[0]
    assert one["request_id"] == two["request_id"] == rid
    assert one["job"] == "nightly" and one["method"] == "-" and one["path"] == "-"
    after = _lines(logs, "after")[0]
    assert after["request_id"] == "-" and "job" not in after
    assert get_context() is None


def test_each_bind_outside_a_request_gets_its_own_id() -> None:
    """Two separate binds never share an id."""
    with bind():
        first = get_request_id()
    with bind():
        second = get_request_id()
    assert first != second


def test_a_given_request_id_is_used() -> None:
    """``bind(request_id=...)`` uses that id."""
    with bind(request_id="cron-2026-12-02"):
        assert get_request_id() == "cron-2026-12-02"


def test_an_invalid_request_id_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    """An id that could forge a log field is replaced with a fresh one and warned about."""
    with bind(request_id='x" level=critical'):
        rid = get_request_id()
    assert len(rid) == 32 and "level" not in rid
    assert "invalid request id (length 17) from a bind()" in caplog.text


def test_nested_binds_add_fields_and_restore_on_exit(logs: LogCapture) -> None:
    """An inner bind keeps the outer id, adds (and may override) fields; leaving restores the outer ones."""
    with bind(job="nightly", stage="a"):
        outer = get_request_id()
        with bind(stage="b", batch=3):
            logger.info("inner")
        logger.info("outer again")
    inner, again = _lines(logs, "inner")[0], _lines(logs, "outer again")[0]
    assert inner["request_id"] == again["request_id"] == outer
    assert (inner["job"], inner["stage"], inner["batch"]) == ("nightly", "b", 3)
    assert (again["job"], again["stage"]) == ("nightly", "a") and "batch" not in again


def test_nested_bind_with_a_request_id_outside_http_takes_it() -> None:
    """Outside an HTTP request an inner ``request_id=`` starts that id for the block."""
    with bind():
        with bind(request_id="inner-id"):
            assert get_request_id() == "inner-id"
        assert get_request_id() != "inner-id"


def test_decorator_binds_a_fresh_context_per_call(logs: LogCapture) -> None:
    """A decorated function gets a new id on each call, and the fields."""

    @bind(job="report")
    def work(n: int) -> str:
        logger.info("working", extra={"n": n})
        return get_request_id()

    first, second = work(1), work(2)
    assert first != second and get_context() is None
    assert [line["job"] for line in _lines(logs, "working")] == ["report", "report"]
    assert work.__name__ == "work"


async def test_async_decorator_and_concurrent_tasks_stay_apart(logs: LogCapture) -> None:
    """Concurrent decorated coroutines each log their own id and fields only."""

    @bind(kind="async-job")
    async def work(n: int) -> str:
        with bind(n_bound=n):
            for _ in range(3):
                logger.info("tick")
                await asyncio.sleep(0)
            return get_request_id()

    ids = await asyncio.gather(*(work(n) for n in range(5)))
    assert len(set(ids)) == 5
    ticks = _lines(logs, "tick")
    assert len(ticks) == 15
    for line in ticks:
        assert line["request_id"] == ids[int(str(line["n_bound"]))]
        assert line["kind"] == "async-job"


async def test_async_with(logs: LogCapture) -> None:
    """``async with bind()`` works like ``with``."""
    async with bind(job="a"):
        logger.info("in async with")
    assert _lines(logs, "in async with")[0]["job"] == "a"
    assert get_context() is None


def test_reserved_names_are_refused() -> None:
    """A field that would shadow a record attribute or a context key is a ValueError."""
    with pytest.raises(ValueError, match="path"):
        bind(path="/x")
    with pytest.raises(ValueError, match="msg"):
        bind(msg="x")


def test_the_number_of_fields_is_bounded() -> None:
    """More than MAX_FIELDS bound at once is refused."""
    many = bind(**{f"f{i}": i for i in range(MAX_FIELDS)})
    with many, pytest.raises(ValueError, match="at most"), bind(extra_one=1):
        pass  # pragma: no cover


def test_plain_statement_outside_any_context_does_nothing() -> None:
    """A bind that is never entered, outside any context, binds nothing."""
    bind(job="x")
    assert get_context() is None


def test_plain_statement_inside_a_bind_lasts_until_the_block_ends(logs: LogCapture) -> None:
    """``bind(k=v)`` as a statement adds to the current context until that context ends."""
    with bind(job="j"):
        bind(item=5)
        logger.info("with item")
    logger.info("gone")
    assert _lines(logs, "with item")[0]["item"] == 5
    assert "item" not in _lines(logs, "gone")[0]


@pytest.mark.urls(URLS)
def test_statement_bind_in_a_view_reaches_the_access_line(client: Client, logs: LogCapture) -> None:
    """In a request, ``bind(order_id=7)`` keeps the request id and adds the field for the rest of the request."""
    client.get("/statement/", headers={"X-Request-Id": "req-bind-1"})
    line = _lines(logs, "after the statement bind")[0]
    assert line["request_id"] == "req-bind-1" and line["order_id"] == 7 and line["path"] == "/statement/"
    access = logs.by_logger("access")
    assert access[-1]["request_id"] == "req-bind-1" and access[-1]["order_id"] == 7
    client.get("/scoped/")
    assert "order_id" not in logs.by_logger("access")[-1]


@pytest.mark.urls(URLS)
def test_scoped_bind_in_a_view_keeps_the_request_id(client: Client, logs: LogCapture) -> None:
    """``with bind()`` in a view keeps the request id; the field ends with the block."""
    client.get("/scoped/", headers={"X-Request-Id": "req-bind-2"})
    inside, after = _lines(logs, "inside the block")[0], _lines(logs, "after the block")[0]
    assert inside["request_id"] == after["request_id"] == "req-bind-2"
    assert inside["step"] == "charge" and inside["route"] == "/scoped/"
    assert "step" not in after and "step" not in logs.by_logger("access")[-1]


@pytest.mark.urls(URLS)
async def test_scoped_bind_in_an_async_view(async_client: AsyncClient, logs: LogCapture) -> None:
    """``async with bind()`` in an async view keeps the request id."""
    await async_client.get("/scoped-async/", headers={"X-Request-Id": "req-bind-3"})
    line = _lines(logs, "inside the async block")[0]
    assert line["request_id"] == "req-bind-3" and line["step"] == "async"


def test_propagate_carries_the_context_into_a_pool_thread(logs: LogCapture) -> None:
    """With ``propagate`` a pool task logs the submitter's id and fields; without it, ``-``."""

    def work(label: str) -> None:
        logger.info(label)

    with ThreadPoolExecutor(max_workers=1) as pool, bind(job="fan-out"):
        rid = get_request_id()
        pool.submit(propagate(work), "propagated").result()
        pool.submit(work, "bare").result()
    propagated, bare = _lines(logs, "propagated")[0], _lines(logs, "bare")[0]
    assert propagated["request_id"] == rid and propagated["job"] == "fan-out"
    assert bare["request_id"] == "-" and "job" not in bare


def test_a_pool_thread_never_logs_a_stale_id(logs: LogCapture) -> None:
    """A task that binds inside a propagated run leaves nothing behind in the reused thread."""

    def binds_and_leaves_it() -> None:
        bind(leaked="yes")
        with bind(request_id="inner-run"):
            pass

    def later() -> None:
        logger.info("later")

    with ThreadPoolExecutor(max_workers=1) as pool:
        with bind(request_id="first-job"):
            pool.submit(propagate(binds_and_leaves_it)).result()
        pool.submit(later).result()
    line = _lines(logs, "later")[0]
    assert line["request_id"] == "-" and "leaked" not in line


def test_one_wrapper_runs_in_several_threads_at_once() -> None:
    """A propagated callable may run concurrently (each call gets its own context copy)."""
    barrier = threading.Barrier(4, timeout=5)

    def work(_: int) -> str:
        barrier.wait()
        return get_request_id()

    with bind(request_id="shared-parent"):
        wrapped = propagate(work)
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(wrapped, range(4)))
    assert results == ["shared-parent"] * 4


def test_context_executor_propagates_every_submit() -> None:
    """``ContextThreadPoolExecutor`` runs submit and map tasks in the submitter's context."""
    with bind(request_id="exec-parent"), ContextThreadPoolExecutor(max_workers=2) as pool:
        assert pool.submit(get_request_id).result() == "exec-parent"
        assert list(pool.map(lambda _: get_request_id(), range(3))) == ["exec-parent"] * 3


def test_one_binding_object_can_be_entered_by_many_threads_at_once() -> None:
    """A shared ``bind()`` object (a module constant) works as ``with`` in concurrent threads."""
    shared = bind(job="shared")
    barrier = threading.Barrier(4, timeout=5)

    def work(_: int) -> tuple[str, str]:
        with shared:
            barrier.wait()
            inner = get_request_id()
        return inner, get_request_id()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    assert len({inner for inner, _ in results}) == 4
    assert {after for _, after in results} == {"-"}


async def test_one_binding_object_across_interleaved_tasks() -> None:
    """Tasks entering and leaving one shared binding in interleaved order each restore their own state."""
    shared = bind(job="interleaved")

    async def work(delay: float) -> str:
        async with shared:
            rid = get_request_id()
            await asyncio.sleep(delay)
            assert get_request_id() == rid
        return get_request_id()

    assert await asyncio.gather(work(0.02), work(0.0), work(0.01)) == ["-", "-", "-"]


def test_generators_cannot_be_decorated() -> None:
    """Decorating a generator is refused: the context would end before its body runs."""

    def numbers() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        bind(job="x")(numbers)
