"""The fields of an access record, read straight from its typed attributes.

Every request writes one access record, so its formatting is the one piece of
logging on the hot path of every app. The access record (``_access_record.py``)
carries the marker ``lantern_access`` and fixes its attributes and their types
in advance; this module reads them directly instead of walking the record's
``__dict__`` for extras and testing each value's type, as
``_BaseFormatter.fields`` must for an arbitrary record.

It returns exactly what the general path would (``tests/logging/test_access_fields.py``
compares the two on hostile input), and returns ``None`` whenever the record
is not the plain one the access log built: an attribute it did not set (a
user's filter or record factory, ``bind()`` fields), an exception, a value of
another type. The general path then handles it.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from django_lantern._cost import COST_FIELDS
from django_lantern.context import UNKNOWN
from django_lantern.logging._access_record import ACCESS_KEYS, MARKER, AccessEvent, access_line
from django_lantern.logging._record_parts import LEVEL_NAMES, rfc3339

if TYPE_CHECKING:
    from django_lantern.logging._base import _BaseFormatter

# A plain access record has a stock record's attributes and the access keys, nothing
# else: anything added (a filter's, a record factory's, ``bind()`` fields) is
# written by the general path. Compared by number: each access key is read
# below (one missing sends the record to the general path), so a matching
# count leaves no room for another attribute unless a standard one was
# deleted; comparing every key with a set costs more than the rest of the
# check (5,600 instructions per record on Python 3.11).
_PLAIN_SIZE = len(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__) + len(ACCESS_KEYS)
INT64_RANGE = (-(2**63), 2**64)
# The types of a cost's values as ``Cost.values`` gives them, ``COST_FIELDS``' order
# (the CPU time and the size may be unknown): checked in one C-level step.
_NONE = type(None)
COST_TYPES = frozenset(
    (int, float, int, int, int, int, float, cpu, size) for cpu in (float, _NONE) for size in (int, _NONE)
)


def access_fields(formatter: _BaseFormatter, record: logging.LogRecord | AccessEvent) -> dict[str, Any] | None:
    """The ordered fields of a plain access record, or ``None`` to use the general path."""
    attrs = record.__dict__
    # The direct path's event: no user attribute can be on it.
    if not isinstance(record, AccessEvent) and not _is_plain(record, attrs):
        return None
    try:
        values = (
            attrs["request_id"],
            attrs["user_id"],
            attrs["method"],
            attrs["path"],
            attrs["route"],
            attrs["trace_id"],
            attrs["span_id"],
            attrs["status"],
            attrs["duration_ms"],
            attrs["client_ip"],
        )
        cost = tuple(attrs[name] for name in COST_FIELDS)
    except KeyError:
        return None
    level = LEVEL_NAMES.get(record.levelno) or record.levelname.lower()
    return typed_fields(formatter, record.created, level, record.name, values, cost)


# An access line's values, in ``ACCESS_KEYS``' order: request id, user id, method, path,
# route, trace id, span id, status, duration (ms), client address; and what the request
# cost, in ``_cost.COST_FIELDS``' order (``Cost.values``).
AccessValues = tuple[Any, ...]
CostValues = tuple[Any, ...]


def typed_fields(
    formatter: _BaseFormatter, created: float, level: str, logger: str, values: AccessValues, cost: CostValues
) -> dict[str, Any] | None:
    """The fields of an access line from its ``values`` as the access record holds them
    (``set_access_fields``: the user id "-" when unknown, the duration rounded), or
    ``None`` when one has another type, or caps are to be applied: the general path then.

    Shared by the record's fields (``access_fields``) and the direct path's JSON line.
    """
    request_id, user_id, method, path, route, trace_id, span_id, status, duration_ms, client_ip = values
    queries, db_ms, duplicates, hits, misses, calls, outbound_ms, cpu_ms, response_bytes = cost
    if not (
        type(request_id) is str
        and type(method) is str
        and type(path) is str
        and type(route) is str
        and type(trace_id) is str
        and type(span_id) is str
        and type(status) is int
        and type(duration_ms) is float
        and math.isfinite(duration_ms)
        and (client_ip is None or type(client_ip) is str)
        and tuple(map(type, cost)) in COST_TYPES
    ):
        return None
    if user_id is None or user_id == UNKNOWN:
        user_id = UNKNOWN
    elif type(user_id) is int:
        if not INT64_RANGE[0] <= user_id < INT64_RANGE[1]:
            return None
    elif type(user_id) is str:
        user_id = formatter._cap(user_id)
    else:
        return None  # a UUID or another type: the general path converts it
    limit = formatter.field_limit
    scrubber = formatter.active_scrubber()
    if scrubber is not None and scrubber.leaves_unchanged(f"{method} {path} {client_ip}"):
        if len(method) > limit or len(path) > limit or (client_ip is not None and len(client_ip) > limit):
            return None  # caps to apply: the general path
    else:
        method = formatter._scrub_capped(method, limit)
        path = formatter._scrub_capped(path, limit)
        if client_ip is not None:  # as an extra it would be made JSON-native and scrubbed like any other
            client_ip = formatter._scrub(formatter._jsonable(client_ip))
    cap = formatter._cap
    return {
        "ts": rfc3339(created),
        "level": level,
        "logger": logger,
        # Rendered from the scrubbed values, as the general path does.
        "message": access_line(method, path, status, duration_ms, None if user_id == UNKNOWN else user_id, limit),
        "request_id": request_id if len(request_id) <= limit else cap(request_id),
        "user_id": user_id,
        "method": method,
        "path": path,
        "route": route if len(route) <= limit else cap(route),
        "trace_id": trace_id if len(trace_id) <= limit else cap(trace_id),
        "span_id": span_id if len(span_id) <= limit else cap(span_id),
        "status": status,
        "duration_ms": duration_ms,
        "client_ip": client_ip,
        # What the request cost (``_cost.COST_FIELDS``): numbers the middleware counted, nothing to scrub.
        "db_queries": queries,
        "db_ms": db_ms,
        "db_duplicates": duplicates,
        "cache_hits": hits,
        "cache_misses": misses,
        "outbound_calls": calls,
        "outbound_ms": outbound_ms,
        "cpu_ms": cpu_ms,
        "response_bytes": response_bytes,
    }


def _is_plain(record: logging.LogRecord, attrs: dict[str, Any]) -> bool:
    """The record is the access log's, as it built it: its attributes, no exception
    (their types are ``typed_fields``'s to check)."""
    if attrs.get(MARKER) is not True or record.exc_info or record.stack_info:
        return False
    return len(attrs) == _PLAIN_SIZE


def access_message(out: dict[str, Any], limit: int) -> str | None:
    """The general path's access line, from fields already scrubbed and typed;
    None when they lack the typed status and duration (the record's own
    message is used then).

    Scrubbing the already-escaped message could cut through a quoted value
    (``path="/x/token=a\\"b forged=1"``) and let client text forge a field,
    so the values are scrubbed first and escaped last.
    """
    status, duration_ms = out.get("status"), out.get("duration_ms")
    if type(status) is not int or not isinstance(duration_ms, (int, float)):
        return None
    # The user id of the line is the one of the field, so they never disagree;
    # "None" when unknown, as the chapter's line has it.
    user_id = out["user_id"]
    return access_line(out["method"], out["path"], status, duration_ms, None if user_id == UNKNOWN else user_id, limit)
