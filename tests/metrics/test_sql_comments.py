"""SQL comments (``LANTERN["SQL_COMMENTS"]``): what the database receives, built once per context.

What a statement looks like when it reaches the driver is read by an execute
wrapper of the test's own, which Django runs inside ours (``connection.execute_wrapper``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, connections
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from django_lantern import bind
from django_lantern.conf import build_settings
from django_lantern.context import RequestContext, current
from django_lantern.metrics import _db as db
from django_lantern.metrics import _sql_comments as sql_comments
from django_lantern.tracing import _queries as tracing_queries
from tests.test_request_id import HOSTILE_IDS

pytestmark = [pytest.mark.urls("tests.metrics.urls_sql_comments"), pytest.mark.django_db]

ALL = ["route", "request_id", "task", "command", "traceparent"]
ROUTE = "/sqlc/orgs/<slug:slug>/"
# One comment at the very end: ' /*key='value',...*/', values free of quotes and of "*/".
COMMENT = re.compile(r" /\*((?:[a-z_]+='(?:[^'\\*]|\\')*',?)+)\*/;?$")


@contextmanager
def received(lantern: dict[str, Any] | None = None) -> Iterator[list[str]]:
    """The statements as the driver receives them, with ``LANTERN`` set to ``lantern``."""
    seen: list[str] = []

    def spy(execute: Any, sql: Any, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with override_settings(LANTERN=lantern or {}), connection.execute_wrapper(spy):
        yield seen


def pairs(statement: str) -> dict[str, str]:
    """The comment's pairs, decoded; {} for a statement without one."""
    match = COMMENT.search(statement)
    if match is None:
        return {}
    out = {}
    for pair in re.findall(r"([a-z_]+)='((?:[^'\\]|\\')*)'", match.group(1)):
        out[pair[0]] = unquote(pair[1].replace("\\'", "'").replace("%%", "%"))
    return out


def test_off_by_default_adds_nothing(client: Client) -> None:
    """Without the setting the statements reach the driver as the code wrote them."""
    with received() as seen:
        assert client.get("/sqlc/orgs/acme/").json() == {"inserted": 2}
    assert seen[:3] == ["SELECT 1"] * 3
    assert not any("/*" in sql for sql in seen)


def test_off_with_metrics_off_leaves_connections_the_cost_wrapper_only() -> None:
    """Metrics, spans, comments and query insights off: only the scope's cost is counted
    (the access line says it whatever the metrics settings); comments on add their layer."""
    off = {"METRICS_ENABLED": False, "N_PLUS_ONE": None, "SLOW_QUERY_MS": None}
    with override_settings(LANTERN=off):
        assert db.instrument(connections["default"]) is db._cost_wrapper
    with override_settings(LANTERN={**off, "SQL_COMMENTS": ["route"]}):
        wrapper = db.instrument(connections["default"])
        assert wrapper is not None and wrapper is not db._cost_wrapper


def test_a_request_comments_every_statement_with_its_route_and_id(client: Client) -> None:
    """Every statement of the request, with and without parameters and the batch, carries the
    request id the response names and the route as its pattern (never the path's values)."""
    with received({"SQL_COMMENTS": ["route", "request_id"]}) as seen:
        response = client.get("/sqlc/orgs/acme-secret-slug/")
    assert response.json() == {"inserted": 2}  # the batch and the parameterised query ran
    request_id = response.headers["X-Request-Id"]
    assert seen[0] == f"SELECT 1 /*request_id='{request_id}',route='%2Fsqlc%2Forgs%2F%3Cslug%3Aslug%3E%2F'*/"
    assert len(seen) == 8
    for sql in seen:
        assert pairs(sql) == {"request_id": request_id, "route": ROUTE}, sql
        assert "acme-secret-slug" not in sql
    # Placeholders are parsed when there are parameters: the comment's "%" doubled there only.
    (with_params,) = [sql for sql in seen if sql.startswith("SELECT %s")]
    assert "%%2Fsqlc" in with_params
    (batch,) = [sql for sql in seen if sql.startswith("INSERT")]
    assert "%%2Fsqlc" in batch


def test_the_comment_is_built_once_per_request(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight statements in one request: one comment built."""
    built: list[str] = []
    original = sql_comments._build

    def counting(keys: Any, ctx: RequestContext, match: object) -> Any:
        built.append(ctx.request_id)
        return original(keys, ctx, match)

    monkeypatch.setattr(sql_comments, "_build", counting)
    with received({"SQL_COMMENTS": ["route", "request_id"]}) as seen:
        client.get("/sqlc/orgs/acme/")
    assert len(seen) == 8
    assert len(built) == 1


def test_the_route_joins_once_known() -> None:
    """Before URL resolution a statement carries the id alone; after it, the route too (rebuilt once)."""

    class Request:
        resolver_match: Any = None

    request = Request()
    ctx = RequestContext("rid-1", "GET", "/x/", request)  # type: ignore[arg-type]
    token = current.set(ctx)
    try:
        with received({"SQL_COMMENTS": ["route", "request_id"]}) as seen, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            first = ctx.sql_comment
            cursor.execute("SELECT 1")
            assert ctx.sql_comment is first

            class Match:
                route = "orgs/<slug:slug>/"

            request.resolver_match = Match()
            cursor.execute("SELECT 1")
    finally:
        current.reset(token)
    assert [pairs(sql) for sql in seen] == [{"request_id": "rid-1"}] * 2 + [
        {"request_id": "rid-1", "route": "/orgs/<slug:slug>/"}
    ]


class Command(BaseCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


def test_a_command_and_a_task_name_themselves() -> None:
    """A management command's statements carry ``command``; a task's (its context's task_name) ``task``."""
    with received({"SQL_COMMENTS": ALL}) as seen:
        call_command(Command())
        with bind(task_name="jobs.export\n*/; DROP TABLE x; --"), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    command, task = (pairs(sql) for sql in seen)
    assert command["command"] == "test_sql_comments" and set(command) == {"command", "request_id"}
    assert task["task"] == "jobs.export\n*/; DROP TABLE x; --" and "command" not in task


def test_traceparent_names_the_contexts_span() -> None:
    ctx = RequestContext("rid-2", "GET", "/", None)
    ctx.trace_id, ctx.span_id, ctx.trace_sampled = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True
    token = current.set(ctx)
    try:
        with received({"SQL_COMMENTS": ["traceparent"]}) as seen, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        current.reset(token)
    assert seen == ["SELECT 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/"]


def test_callsite_is_the_users_frame() -> None:
    """``callsite`` names the first frame outside Django and this package: here, this file."""
    with received({"SQL_COMMENTS": ["callsite", "request_id"]}) as seen, bind(), connection.cursor() as cursor:
        line = sys._getframe().f_lineno + 1
        cursor.execute("SELECT 1")
    found = pairs(seen[0])
    assert set(found) == {"callsite", "request_id"}
    assert found["callsite"].endswith(f"{Path(__file__).name}:{line}")
    assert not found["callsite"].startswith("/")  # relative to the working directory


def test_a_statement_with_a_comment_costs_no_stack_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """It is left as written, so the user's frame is not even looked for."""
    walks: list[object] = []
    real = sql_comments.callsite
    monkeypatch.setattr(sql_comments, "callsite", lambda frame: walks.append(frame) or real(frame))
    with received({"SQL_COMMENTS": ["callsite"]}) as seen, bind(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 /* mine */")
        cursor.execute("SELECT 2 -- mine")
        assert walks == []
        cursor.execute("SELECT 3")
    assert len(walks) == 1
    assert seen[:2] == ["SELECT 1 /* mine */", "SELECT 2 -- mine"]
    assert set(pairs(seen[2])) == {"callsite"}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT 1;", "SELECT 1 /*request_id='r'*/;"),
        ("SELECT 1 ;  \n", "SELECT 1 /*request_id='r'*/;"),
        ("SELECT 1  \n", "SELECT 1 /*request_id='r'*/"),
        ("SELECT 1 /* mine */", "SELECT 1 /* mine */"),
        ("/*+ SeqScan(t) */ SELECT 1", "/*+ SeqScan(t) */ SELECT 1"),
        ("SELECT 1 -- mine", "SELECT 1 -- mine"),
        ("", ""),
    ],
)
def test_statements_with_a_comment_or_a_final_semicolon(statement: str, expected: str) -> None:
    """As the spec says: a statement with a comment is left alone; a final ``;`` stays last."""
    assert sql_comments.append(statement, "/*request_id='r'*/") == expected


def test_statements_that_are_not_strings_go_through_untouched() -> None:
    """psycopg's ``sql.Composed`` (and anything not a str) is never rewritten, nor turned into text."""
    inner: list[Any] = []
    wrapper = sql_comments.wrapper(("request_id",))

    class Composed:
        def __str__(self) -> str:
            raise AssertionError("read as text")

    statement = Composed()
    with bind():
        wrapper(lambda sql, *rest: inner.append(sql), statement, None, False, {})
        wrapper(lambda sql, *rest: inner.append(sql), b"SELECT 1", None, False, {})
    assert inner == [statement, b"SELECT 1"]


def test_query_spans_keep_the_statement_without_the_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The span layer runs outside the comment's: the statement it is handed is the one the code wrote."""
    handed: list[str] = []
    monkeypatch.setattr(tracing_queries, "start", lambda base, sql, params, many: handed.append(sql))
    lantern = {"SQL_COMMENTS": ["request_id"], "TRACING_QUERY_SPANS": True}
    with received(lantern) as seen, bind(), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert handed == ["SELECT 1"]
    assert seen[0].startswith("SELECT 1 /*request_id=")


def test_captured_queries_count_the_same_and_record_what_the_driver_ran(client: Client) -> None:
    """``assertNumQueries`` / ``CaptureQueriesContext`` count exactly as without comments. Their text is
    Django's ``last_executed_query``: on PostgreSQL the driver's own text (the comment included), on
    SQLite the statement as written. Pinned, so that a Django change here is noticed."""
    with received(), CaptureQueriesContext(connection) as off:
        client.get("/sqlc/orgs/acme/")
    with received({"SQL_COMMENTS": ["route", "request_id"]}), CaptureQueriesContext(connection) as on:
        response = client.get("/sqlc/orgs/acme/")
    assert len(on) == len(off) == 8
    first = on.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert first.startswith("SELECT 1 /*request_id=") and response.headers["X-Request-Id"] in first
    else:
        assert [q["sql"] for q in on.captured_queries] == [q["sql"] for q in off.captured_queries]


def test_a_failing_comment_never_fails_the_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in building the comment runs the statement as written, and is reported."""

    def broken(*args: Any) -> str:
        raise RuntimeError("comment bug")

    reported: list[str] = []
    monkeypatch.setattr(sql_comments, "_build", broken)
    monkeypatch.setattr(sql_comments, "report_internal_error", lambda kind, exc: reported.append(kind))
    for keys in (["request_id"], ["callsite", "request_id"]):
        with received({"SQL_COMMENTS": keys}) as seen, bind(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert seen == ["SELECT 1"]
    assert reported == ["sql_comments", "sql_comments"]


# -- hostile values ----------------------------------------------------------------------
HOSTILE = [
    *HOSTILE_IDS.values(),
    "*/ DROP TABLE users; /*",
    "'; --",
    "\\'*/",
    "%s %(x)s %%",
    "line\nbreak\r\n\x00nul",
    "\u2028\u2029\x1b[31m",
    "\ud800 lone surrogate",
    "\u00e9\u2713\U0001d518",
]


def assert_contained(values: dict[str, str], statement: str) -> None:
    """One comment at the very end, and every value read back exactly (cut at the cap)."""
    assert statement.startswith("SELECT 1 /*")
    assert statement.count("*/") == 1 and statement.endswith("*/")
    assert not any(char in statement for char in "\n\r\x00\x1b\u2028")
    body = statement[len("SELECT 1 /*") : -2]
    assert "'" not in re.sub(r"[a-z_]+='([^'\\]|\\')*'", "", body).replace(",", "")
    expected = {
        key: value[: sql_comments.MAX_VALUE_LENGTH].encode("utf-8", "replace").decode() for key, value in values.items()
    }
    assert pairs(statement) == expected


def hostile_context(route: str, request_id: str, task: str) -> RequestContext:
    class Match:
        pass

    class Request:
        resolver_match = Match()

    Request.resolver_match.route = route  # type: ignore[attr-defined]
    ctx = RequestContext(request_id, "GET", "/", Request())  # type: ignore[arg-type]
    ctx.fields = {"task_name": task, "command": task}
    return ctx


def comment_of(ctx: RequestContext) -> str:
    token = current.set(ctx)
    try:
        return sql_comments.comment_for(("command", "request_id", "route", "task"), False, False, None)
    finally:
        current.reset(token)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_never_closes_the_comment_on_the_database(value: str) -> None:
    """The database runs the statement and its comment as one: the same row comes back."""
    ctx = hostile_context("/" + value.lstrip("/"), value, value)
    statement = sql_comments.append("SELECT 1", comment_of(ctx))
    expected = {"route": ctx.route, "request_id": value, "task": value, "command": value}
    assert_contained(expected, statement)
    with connection.cursor() as cursor:
        cursor.execute(statement)
        assert cursor.fetchall() == [(1,)]


@given(st.text(), st.text(min_size=1), st.text(min_size=1))
def test_fuzzed_values_never_close_the_comment(route: str, request_id: str, task: str) -> None:
    ctx = hostile_context("/" + route.lstrip("/"), request_id, task)
    statement = sql_comments.append("SELECT 1", comment_of(ctx))
    expected = {"route": ctx.route, "request_id": request_id, "task": task, "command": task}
    assert_contained(expected, statement)


def test_the_spec_example_serializes_as_the_spec_writes_it() -> None:
    """The spec's exhibit: keys sorted, "/" and "*" URL-encoded, "'" escaped."""
    assert sql_comments.serialize({"route": "/param*d", "controller": "index", "o'k": "it's"}) == (
        "/*controller='index',o%27k='it%27s',route='%2Fparam%2Ad'*/"
    )


# -- settings ----------------------------------------------------------------------------
def test_unknown_keys_are_refused_at_start_up() -> None:
    settings, errors = build_settings({"SQL_COMMENTS": ["route", "controller"]})
    assert settings.sql_comments == ()
    (error,) = errors
    assert "LANTERN['SQL_COMMENTS']" in error and "unknown: 'controller'" in error and "'request_id'" in error
    with override_settings(LANTERN={"SQL_COMMENTS": "route"}), pytest.raises(ImproperlyConfigured):
        from django_lantern.conf import get_settings

        get_settings()


def test_keys_are_kept_sorted_without_repeats() -> None:
    settings, errors = build_settings({"SQL_COMMENTS": ["task", "route", "task", "callsite"]})
    assert errors == [] and settings.sql_comments == ("callsite", "route", "task")
