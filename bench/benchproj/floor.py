"""The floor: the smallest middleware that produces the same outputs as lantern's per request.

A request id in a context variable (the valid incoming ``X-Request-Id`` or a
fresh random one), echoed on the response; one JSON access line built by
``orjson`` and written with one ``os.write`` on an ``O_APPEND`` descriptor,
with the fields lantern's default line has, issue 22's cost among them (the
queries, their time and exact repeats, the thread's CPU time, the response's
size; the cache and outbound counts are per call, and neither page makes
one, so their zeros are written as they are); a Prometheus counter and
histogram per request (their label children kept in a dict, so a request
costs one ``inc`` and one ``observe``), and for a request that queried the
queries and DB time by route (two more); a histogram per query through an
execute wrapper put on each connection as it is created (nothing per
request), which also counts the query in the request's cost and by
statement shape, writing one WARNING line when a shape repeats five times
(issue 22's N+1 insight, done the short way: a regular expression for the
literals, no callsite, no rate limit). Nothing else:
no settings, no fail-safe guards, no scrubbing, no probes, no sampling, no
async path. It is what the issue-21 targets compare lantern against
(``settings_floor``, ``settings_pagefloor``), never something to deploy.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

import orjson
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import LazyObject, empty
from prometheus_client import Counter, Histogram

from benchproj.base import CONFIG, log_file

# The request's id and cost: [id, queries, query seconds, repeats, statements seen, counts by
# statement shape] (the last two made at the first query).
request_state: ContextVar[list[Any] | None] = ContextVar("floor_request", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A path whose characters need no escaping in the key=value message (anything else is JSON-quoted).
_PLAIN = re.compile(r"[!-~]*")
_FD = os.open(log_file(CONFIG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
_REQUESTS = Counter("floor_requests_total", "Requests.", ["method", "route", "status"])
_LATENCY = Histogram("floor_request_duration_seconds", "Request duration.", ["method", "route"])
_QUERY = Histogram("floor_db_query_duration_seconds", "Query duration.", ["alias"])
_ROUTE_QUERIES = Histogram("floor_request_db_queries", "Queries per request.", ["route"], buckets=(1, 2, 5, 10, 50))
_ROUTE_DB = Histogram("floor_request_db_duration_seconds", "DB time per request.", ["route"])
# N+1: a statement shape (literals replaced) run this many times in one request is reported once.
_N_PLUS_ONE = 5
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
_shapes: dict[str, str] = {}
_clock = time.perf_counter
_cpu = time.thread_time
_query_children: dict[str, Any] = {}
_route_children: dict[str, tuple[Any, Any]] = {}


def _time_query(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
    start = _clock()
    try:
        return execute(sql, params, many, context)
    finally:
        seconds = _clock() - start
        alias = context["connection"].alias
        child = _query_children.get(alias)
        if child is None:
            child = _query_children[alias] = _QUERY.labels(alias)
        child.observe(seconds)
        state = request_state.get()
        if state is not None:
            state[1] += 1
            state[2] += seconds
            key = hash((sql, tuple(params) if type(params) is list else params))
            seen = state[4]
            if seen is None:
                seen = state[4] = set()
                state[5] = {}
            if key in seen:
                state[3] += 1
            else:
                seen.add(key)
            shape = _shapes.get(sql)
            if shape is None:
                shape = _shapes[sql] = _LITERALS.sub("?", sql)
            counts = state[5]
            n = counts[shape] = counts.get(shape, 0) + 1
            if n == _N_PLUS_ONE:
                line = {"level": "WARNING", "logger": "db", "insight": "n_plus_one", "fingerprint": shape}
                os.write(_FD, orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))


def _instrument(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _time_query not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _time_query)


connection_created.connect(_instrument, dispatch_uid="benchproj.floor")
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _metrics(method: str, route: str, status: int) -> tuple[Any, Any]:
    key = (method, route, status)
    pair = _children.get(key)
    if pair is None:
        pair = _children[key] = (_REQUESTS.labels(method, route, status), _LATENCY.labels(method, route))
    return pair


def _user_id(request: HttpRequest) -> Any:
    """The user's id only if the request already loaded the user (never a query of our own)."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = None if user._wrapped is empty else user._wrapped
    return user.pk if user is not None and user.is_authenticated else None


class FloorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.META.get("HTTP_X_REQUEST_ID")
        rid = incoming if incoming and _VALID_ID.fullmatch(incoming) else os.urandom(16).hex()
        state = [rid, 0, 0.0, 0, None, None]
        token = request_state.set(state)
        start, cpu_start = _clock(), _cpu()
        try:
            response = self.get_response(request)
            seconds = _clock() - start
            match = request.resolver_match
            route = match.route if match is not None else "<unmatched>"
            method, path, status = request.method or "", request.path, response.status_code
            requests, latency = _metrics(method, route, status)
            requests.inc()
            latency.observe(seconds)
            if state[1]:
                pair = _route_children.get(route)
                if pair is None:
                    pair = _route_children[route] = (_ROUTE_QUERIES.labels(route), _ROUTE_DB.labels(route))
                pair[0].observe(state[1])
                pair[1].observe(state[2])
            user_id = _user_id(request)
            shown = path if _PLAIN.fullmatch(path) else orjson.dumps(path).decode()
            duration_ms = round(seconds * 1000, 2)
            length = response.get("Content-Length")
            line = {
                "ts": datetime.datetime.now(datetime.UTC),
                "level": "INFO",
                "logger": "access",
                "message": f"method={method} path={shown} status={status} duration_ms={duration_ms} user_id={user_id}",
                "request_id": rid,
                "user_id": user_id,
                "method": method,
                "path": path,
                "route": route,
                "trace_id": "-",
                "span_id": "-",
                "status": status,
                "duration_ms": duration_ms,
                "client_ip": request.META.get("REMOTE_ADDR"),
                "db_queries": state[1],
                "db_ms": round(state[2] * 1000, 2),
                "db_duplicates": state[3],
                "cache_hits": 0,
                "cache_misses": 0,
                "outbound_calls": 0,
                "outbound_ms": 0.0,
                "cpu_ms": round((_cpu() - cpu_start) * 1000, 2),
                "response_bytes": int(length) if length else None,
                "release": None,
            }
            os.write(_FD, orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
            response["X-Request-Id"] = rid
            return response
        finally:
            request_state.reset(token)
