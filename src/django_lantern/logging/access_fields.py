"""The fields of an access record, read straight from its typed attributes.

Every request writes one access record, so its formatting is the one piece of
logging on the hot path of every app. ``AccessRecord`` fixes the record's
attributes and their types in advance; this module reads them directly
instead of walking the record's ``__dict__`` for extras and testing each
value's type, as ``_BaseFormatter.fields`` must for an arbitrary record.

It returns exactly what the general path would (``tests/test_access_fields.py``
compares the two on hostile input), and returns ``None`` whenever the record
is not the plain one the middleware built: an extra attribute (a user's
filter, ``bind()`` fields), an exception, a value of another type. The
general path then handles it.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from django_lantern.context import UNKNOWN
from django_lantern.logging.access_record import AccessRecord, access_line
from django_lantern.logging.record_parts import LEVEL_NAMES, rfc3339

if TYPE_CHECKING:
    from django_lantern.logging.formatters import _BaseFormatter

# How many attributes the middleware's access record has; any other count
# means something was added (or removed) since, and the general path runs.
PLAIN_SIZE = len(
    AccessRecord(
        "access",
        logging.INFO,
        request_id="-",
        method="GET",
        path="/",
        route="/",
        status=200,
        duration_ms=0.0,
        user_id=None,
        client_ip=None,
    ).__dict__
)
_INT64 = (-(2**63), 2**64)


def access_fields(formatter: _BaseFormatter, record: logging.LogRecord) -> dict[str, Any] | None:
    """The ordered fields of a plain access record, or ``None`` to use the general path."""
    attrs = record.__dict__
    size = len(attrs)
    # One more attribute is allowed: ``msg``, once something has read it (Sentry's
    # logging integration does, for its breadcrumbs, before any handler runs).
    if size != PLAIN_SIZE and not (size == PLAIN_SIZE + 1 and "msg" in attrs):
        return None
    if attrs.get("lantern_access") is not True or record.exc_info or record.stack_info:
        return None
    try:
        request_id = attrs["request_id"]
        user_id = attrs["user_id"]
        method = attrs["method"]
        path = attrs["path"]
        route = attrs["route"]
        trace_id = attrs["trace_id"]
        span_id = attrs["span_id"]
        status = attrs["status"]
        duration_ms = attrs["duration_ms"]
        client_ip = attrs["client_ip"]
    except KeyError:
        return None
    str_ = str
    if not (
        type(request_id) is str_
        and type(method) is str_
        and type(path) is str_
        and type(route) is str_
        and type(trace_id) is str_
        and type(span_id) is str_
        and type(status) is int
        and type(duration_ms) is float
        and math.isfinite(duration_ms)
        and (client_ip is None or type(client_ip) is str_)
    ):
        return None
    limit = formatter.field_limit
    scrubber = formatter.active_scrubber()
    if user_id is None or user_id == UNKNOWN:
        user_id = UNKNOWN
    elif type(user_id) is int:
        if not _INT64[0] <= user_id < _INT64[1]:
            return None
    elif type(user_id) is str_:
        user_id = formatter._cap(user_id)
    else:
        return None  # a UUID or another type: the general path converts it
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
        "ts": rfc3339(record.created),
        "level": LEVEL_NAMES.get(record.levelno) or record.levelname.lower(),
        "logger": record.name,
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
    }
