"""What a request cost, on its access line: queries, DB time, repeats, cache, CPU, bytes.

Views run exactly 0, 1 and 25 queries (sync, async, a streaming body, inside
``transaction.atomic``); the line must say ``db_queries`` 0/1/25 and a
``db_ms`` equal, to 0.01 ms, to the sum of that request's query timings, in
all five formats, written directly (the default configuration) and through a
record (any other configuration).

The reference timings are the query wrapper's own clock reads: the test
records every value its clock returns. So the comparison checks that each of
the request's queries was counted with its own duration, and nothing else
(no query of another scope, no time outside the query), without a second
clock whose reads would sit a few microseconds apart from ours and make
"equal" a tolerance. The count is checked against what the view was built to
run, and, for the sync view, against Django's own ``CaptureQueriesContext``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections, transaction
from django.test import Client
from django.test.client import AsyncClient
from django.test.utils import CaptureQueriesContext

from django_lantern import _cost
from django_lantern.binding import bind
from django_lantern.conf import get_settings
from django_lantern.logging.formatters import JsonFormatter, TextFormatter
from django_lantern.logging.schemas import DatadogFormatter, EcsFormatter, GcpFormatter
from django_lantern.metrics import _db
from tests.conftest import LogCapture
from tests.logging.test_access_direct import our_handler

URLS = "tests.urls_cost"
COUNTS = (0, 1, 25)
MODES = ("sync", "async", "streaming", "atomic")
FORMATS: dict[str, Callable[[], logging.Formatter]] = {
    "json": JsonFormatter,
    "text": TextFormatter,
    "ecs": EcsFormatter,
    "gcp": GcpFormatter,
    "datadog": DatadogFormatter,
}
pytestmark = [pytest.mark.urls(URLS), pytest.mark.django_db(transaction=True)]


def cost_of(fmt: str, line: str) -> dict[str, Any]:
    """The cost fields of one line, read from where the format puts them (None: not on the line)."""
    if fmt == "text":
        pairs = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
        return {key: json.loads(pairs[key]) if pairs.get(key, "None") != "None" else None for key in _cost.COST_FIELDS}
    payload = json.loads(line)
    if fmt == "json":
        return {key: payload.get(key) for key in _cost.COST_FIELDS}
    fields = dict(payload["lantern"])
    if fmt == "ecs":
        fields["response_bytes"] = payload.get("http", {}).get("response", {}).get("body", {}).get("bytes")
    elif fmt == "gcp":
        size = payload.get("httpRequest", {}).get("responseSize")
        fields["response_bytes"] = None if size is None else int(size)
    else:
        fields["response_bytes"] = payload.get("network", {}).get("bytes_written")
    return fields


class RecordingClock:
    """Stands in for the query wrapper's clock: returns the real time and keeps every read."""

    def __init__(self) -> None:
        self.reads: list[float] = []
        self._lock = threading.Lock()
        self._real = _db._clock

    def __call__(self) -> float:
        now = self._real()
        with self._lock:
            self.reads.append(now)
        return now

    def sum_ms(self) -> float:
        """The queries' durations as the wrapper measured them: its reads, start and end, in pairs."""
        assert len(self.reads) % 2 == 0
        return sum(end - start for start, end in zip(self.reads[::2], self.reads[1::2], strict=True)) * 1000

    @property
    def queries(self) -> int:
        return len(self.reads) // 2


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> RecordingClock:
    recording = RecordingClock()
    monkeypatch.setattr(_db, "_clock", recording)
    return recording


@pytest.fixture
def access_stream(logging_state: None) -> Iterator[Callable[[logging.Formatter], Any]]:
    """The access logger with only our handler: the direct path, as ``build_logging_config`` sets it up."""
    logger = logging.getLogger(get_settings().access_logger)
    logger.filters.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)

    def attach(formatter: logging.Formatter) -> Any:
        return our_handler(logger, formatter)

    yield attach


def get(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    if response.streaming:
        b"".join(response.streaming_content)  # type: ignore[arg-type]
        response.close()


def transaction_statements(mode: str) -> int:
    """The statements Django itself sends through the cursor for an empty ``atomic`` block on
    this backend (SQLite's ``BEGIN`` since Django 5.1; none on PostgreSQL), seen by an
    execute wrapper of the test's own: they are statements of the request too."""
    if mode != "atomic":
        return 0
    seen: list[str] = []

    def note(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note), transaction.atomic():
        pass
    return len(seen)


def assert_cost(cost: dict[str, Any], n: int, clock: RecordingClock) -> None:
    assert cost["db_queries"] == n == clock.queries
    assert cost["db_ms"] == pytest.approx(clock.sum_ms(), abs=0.01)
    assert cost["db_duplicates"] == 0
    assert cost["cache_hits"] == cost["cache_misses"] == cost["outbound_calls"] == 0
    assert cost["outbound_ms"] == 0.0
    assert cost["cpu_ms"] is not None and cost["cpu_ms"] >= 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", [m for m in MODES if m != "async"])
@pytest.mark.parametrize("n", COUNTS)
def test_sync_views_say_their_queries(
    n: int, mode: str, fmt: str, client: Client, clock: RecordingClock, access_stream: Any
) -> None:
    """Sync, streaming and atomic views: the line written directly says the request's queries and their time."""
    extra = transaction_statements(mode)
    stream = access_stream(FORMATS[fmt]())
    clock.reads.clear()
    get(client, f"/{mode}/{n}/")
    [line] = stream.getvalue().splitlines()
    cost = cost_of(fmt, line)
    assert_cost(cost, n + extra, clock)
    assert cost["response_bytes"] == (len(b"start\n") + 4 * n if mode == "streaming" else len(f"ran {n}"))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("n", COUNTS)
async def test_async_views_say_their_queries(
    n: int,
    fmt: str,
    async_client: AsyncClient,
    clock: RecordingClock,
    access_stream: Any,
    close_thread_connections: None,
) -> None:
    """An async view whose queries run in asgiref's thread: they count in the request that awaited them."""
    stream = access_stream(FORMATS[fmt]())
    response = await async_client.get(f"/async/{n}/")
    assert response.status_code == 200
    [line] = stream.getvalue().splitlines()
    assert_cost(cost_of(fmt, line), n, clock)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_the_record_path_says_the_same(mode: str, fmt: str, client: Client, clock: RecordingClock) -> None:
    """Any other configuration (here a handler not ours) gets the same fields on the record, in every format."""
    extra = transaction_statements(mode)
    clock.reads.clear()
    with attached_capture() as logs:
        if mode == "async":
            asyncio.run(_async_get("/async/25/"))
        else:
            get(client, f"/{mode}/25/")
    [record] = logs.access(get_settings().access_logger)
    assert_cost(cost_of(fmt, FORMATS[fmt]().format(record)), 25 + extra, clock)


async def _async_get(url: str) -> None:
    try:
        assert (await AsyncClient().get(url)).status_code == 200
    finally:
        # The view's queries ran in asgiref's thread: its connection must not outlive the test.
        await sync_to_async(connections.close_all)()


def attached_capture() -> Any:
    from tests.helpers.sinks import attached

    return attached(LogCapture())


def test_the_count_is_djangos(client: Client, clock: RecordingClock) -> None:
    """Django's own record of the connection's queries agrees on the count."""
    with CaptureQueriesContext(connection) as captured, attached_capture() as logs:
        get(client, "/sync/25/")
    [record] = logs.access(get_settings().access_logger)
    assert record.db_queries == len(captured.captured_queries) == 25
    # Each of Django's timings (rounded to the ms) is within the wrapper's bracket of the same query.
    assert sum(float(q["time"]) for q in captured.captured_queries) * 1000 <= clock.sum_ms() + 25 * 0.5


def test_a_repeated_statement_and_parameters_is_a_duplicate(client: Client, clock: RecordingClock) -> None:
    """``SELECT %s`` with 7, 7, 8, 7: four queries, two repeats of an earlier one."""
    with attached_capture() as logs:
        get(client, "/repeat/")
    [record] = logs.access(get_settings().access_logger)
    assert (record.db_queries, record.db_duplicates) == (4, 2)


def test_cache_hits_and_misses(client: Client) -> None:
    """``get`` and ``get_many`` per key, as the cache metrics count them; ``set`` is neither."""
    with attached_capture() as logs:
        get(client, "/cache/")
    [record] = logs.access(get_settings().access_logger)
    assert (record.cache_hits, record.cache_misses) == (2, 3)


def test_nothing_outside_the_request_is_counted(client: Client, clock: RecordingClock) -> None:
    """Queries before and after (another scope, or none) never reach the request's line."""
    with bind(job="before"):
        _db_roundtrip()
    _db_roundtrip()
    with attached_capture() as logs:
        get(client, "/sync/1/")
    _db_roundtrip()
    [record] = logs.access(get_settings().access_logger)
    assert record.db_queries == 1


def _db_roundtrip() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_per_route_distributions(client: Client) -> None:
    """Queries and DB time per request, by route, observed in the request's one metrics step; probes not."""
    from prometheus_client import REGISTRY

    from django_lantern.metrics import _families, _recorder

    _families.get_families.cache_clear()
    _recorder._state.cache_clear()
    with attached_capture() as logs:
        get(client, "/sync/25/")
        get(client, "/sync/1/")
        client.get("/healthz")
    route = {"route": "/sync/<int:n>/"}
    count = REGISTRY.get_sample_value("http_server_request_db_queries_count", route)
    total = REGISTRY.get_sample_value("http_server_request_db_queries_sum", route)
    assert (count, total) == (2, 26)
    assert REGISTRY.get_sample_value("http_server_request_db_queries_bucket", {**route, "le": "1.0"}) == 1
    spent = REGISTRY.get_sample_value("http_server_request_db_duration_seconds_sum", route)
    lines = logs.access(get_settings().access_logger)
    assert spent == pytest.approx(sum(r.db_ms for r in lines if r.path.startswith("/sync/")) / 1000, abs=2e-5)
    assert REGISTRY.get_sample_value("http_server_request_db_queries_count", {"route": "/healthz"}) is None
    # A request without a query is in neither histogram (the request counter has it).
    get(client, "/sync/0/")
    assert REGISTRY.get_sample_value("http_server_request_db_queries_count", route) == 2
    assert REGISTRY.get_sample_value("http_server_request_db_queries_bucket", {**route, "le": "0.0"}) == 0
    assert REGISTRY.get_sample_value("http_server_request_db_duration_seconds_count", route) == 2


def test_outbound_calls_and_their_time(client: Client) -> None:
    """Calls through lantern's transports, each counted once even when ``instrument()`` also patched the send."""
    from django_lantern import outbound

    outbound.instrument()
    try:
        with attached_capture() as logs:
            get(client, "/outbound/")
    finally:
        outbound.uninstrument()
    [record] = logs.access(get_settings().access_logger)
    assert record.outbound_calls == 3
    assert record.outbound_ms >= 0.0 and record.outbound_ms <= record.duration_ms


def test_readiness_work_is_not_the_requests(client: Client, clock: RecordingClock) -> None:
    """``/readyz`` runs its database check in a worker thread of its own: the query happens, and
    is in no request's count, the probe's included."""
    clock.reads.clear()
    with attached_capture() as logs:
        assert client.get("/readyz").status_code == 200
    [record] = logs.access(get_settings().access_logger)
    assert clock.queries >= 1  # the check's SELECT 1 ran
    assert record.db_queries == 0 and record.cache_hits == record.cache_misses == 0
