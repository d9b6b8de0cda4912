"""The default format's access line assembled as text: the direct path's usual case.

Most of an access line in the default format (``JsonFormatter``) is the
same text from one request to the next: the logger, the method, the path and
the route repeat, and the rest are numbers and validated ids. So the JSON
text of the repeating part is made once, by orjson as the formatter would
make it, and kept per (scrubber, field limit, logger, level, method, path,
client address, route); each line adds its own values: the cost's numbers and the
release serialised by orjson in one call, the status, the duration and the
usual ids (hex, or unknown) written as the text orjson would write.

Only plain values are taken: a method, path and address the scrubber leaves
as they are, every text within the field limit, a user id unknown or an
integer, numbers of the types ``Cost.values`` gives. For anything else
:func:`json_access_line` returns None and the line takes ``typed_fields``,
whose bytes this one must match (``tests/logging/test_access_json.py``).
"""

from __future__ import annotations

from json.encoder import encode_basestring as _escape_ascii
from typing import TYPE_CHECKING, Any

from django_lantern._release import identity
from django_lantern.context import UNKNOWN
from django_lantern.logging._access_fields import COST_TYPES, INT64_RANGE, CostValues
from django_lantern.logging._access_record import access_line_head
from django_lantern.logging._record_parts import LEVEL_NAMES, rfc3339

if TYPE_CHECKING:
    from django_lantern.context import RequestContext
    from django_lantern.scrubbing import Scrubber

try:
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover - exercised when orjson is absent
    _dumps = None  # type: ignore[assignment]

__all__ = ["json_access_line"]

# The path, method, address and route may be chosen by a client (a scan of random
# paths): a shape is kept only for short texts, and the shapes are forgotten at this many.
_MAX_SHAPES = 1024
_MAX_SHAPE_TEXT = 512
# Durations the default line writes as they are: from a clock, never negative, never huge.
_MAX_DURATION_MS = 1e12


class _Shape:
    """The JSON text of what repeats: from the level to the message's status, from the method
    to the route, and the client address."""

    __slots__ = ("address", "head", "middle")

    def __init__(self, head: str, middle: str, address: str) -> None:
        self.head = head
        self.middle = middle
        self.address = address


_shapes: dict[tuple[Any, ...], _Shape] = {}


def json_access_line(
    scrubber: Scrubber | None,
    limit: int,
    logger: str,
    level: int,
    created: float,
    ctx: RequestContext,
    route: Any,
    status: Any,
    duration_ms: Any,
    client_ip: Any,
    cost: CostValues,
) -> str | None:
    """The default format's access line for ``ctx`` (``JsonFormatter`` with ``scrubber`` and
    field ``limit``), or None when a value is not a plain case (the caller then takes ``typed_fields``)."""
    if _dumps is None:
        return None
    key = (scrubber, limit, logger, level, ctx.method, ctx.path, client_ip, route)
    shape = _shapes.get(key)
    if shape is None:
        shape = _new_shape(key)
        if shape is None:
            return None
        if len(_shapes) >= _MAX_SHAPES:
            _shapes.clear()
        _shapes[key] = shape
    user_id = ctx.user_id
    if user_id is None or user_id == UNKNOWN:
        shown, user = "None", "null"
    elif type(user_id) is int and INT64_RANGE[0] <= user_id < INT64_RANGE[1]:
        shown = user = str(user_id)
    else:
        return None  # a string is capped, another type converted: ``typed_fields`` does both
    request_id, trace_id, span_id = ctx.request_id, ctx.trace_id, ctx.span_id
    try:
        # The ids are text (``open_context`` and the tracer set them): one that is not is refused
        # by ``len`` or by the quoting below, a ``TypeError`` or an ``AttributeError``.
        if (
            type(status) is not int
            or not 0 <= status < 1000
            or type(duration_ms) is not float
            or not 0.0 <= duration_ms < _MAX_DURATION_MS
            or len(request_id) > limit
            or len(trace_id) > limit
            or len(span_id) > limit
            or tuple(map(type, cost)) not in COST_TYPES
        ):
            return None
        # The usual ids first: hex, or unknown; ``_quoted``'s first case inline for the request's.
        quoted_id = _escape_ascii(request_id) if request_id.isascii() else _quoted(request_id)
        trace = '"-"' if trace_id == UNKNOWN else _quoted(trace_id)
        span = '"-"' if span_id == UNKNOWN else _quoted(span_id)
        queries, db_ms, duplicates, hits, misses, calls, outbound_ms, cpu_ms, response_bytes = cost
        # orjson refuses what JSON cannot hold (an integer past 64 bits): the general path then.
        tail = _dumps(
            {
                # What the request cost, ``_cost.COST_FIELDS``' order.
                "db_queries": queries,
                "db_ms": db_ms,
                "db_duplicates": duplicates,
                "cache_hits": hits,
                "cache_misses": misses,
                "outbound_calls": calls,
                "outbound_ms": outbound_ms,
                "cpu_ms": cpu_ms,
                "response_bytes": response_bytes,
                "release": identity().release,
            }
        )
    except (TypeError, AttributeError):
        return None
    # The duration to 0.01 ms as the message shows it. The field is ``round(duration_ms, 2)``,
    # which is this decimal read back (both round the exact value the same way), written
    # as orjson writes it: the shortest text that reads back the same, this one without its
    # trailing zeros (a number of at most 15 digits, ``_MAX_DURATION_MS``, reads back exactly).
    duration = f"{duration_ms:.2f}"
    number = duration.rstrip("0")
    if number[-1] == ".":
        number += "0"
    return (
        f'{{"ts":"{rfc3339(created)}"{shape.head}{status} duration_ms={duration} '
        f'user_id={shown}","request_id":{quoted_id},"user_id":{user}{shape.middle},"trace_id":{trace},'
        f'"span_id":{span},"status":{status},"duration_ms":{number}{shape.address},{tail[1:].decode()}'
    )


def _quoted(text: str) -> str:
    """``text`` as a JSON string, as orjson writes it.

    ASCII text (an id: checking it is one step) through the standard library's C
    escaper, which escapes ASCII character by character as orjson does; any other through
    orjson, which refuses a lone surrogate (a ``TypeError``: the general path then)."""
    return _escape_ascii(text) if text.isascii() else _dumps(text).decode()


def _new_shape(key: tuple[Any, ...]) -> _Shape | None:
    """The repeating text for these values, or None when they are not a plain case: text to
    scrub or to cut, a lone surrogate (orjson refuses it; the general path replaces it)."""
    scrubber, limit, logger, level, method, path, client_ip, route = key
    level_name = LEVEL_NAMES.get(level)
    if not (
        level_name is not None
        and type(method) is str
        and type(path) is str
        and type(route) is str
        and (client_ip is None or type(client_ip) is str)
        and len(method) + len(path) + len(route) + len(client_ip or "") <= min(limit, _MAX_SHAPE_TEXT)
    ):
        return None
    # The one question ``typed_fields`` asks too, so its verdict is cached once for both.
    if scrubber is not None and not scrubber.leaves_unchanged(f"{method} {path} {client_ip}"):
        return None
    try:
        # JSON escapes character by character, so the head's text stands inside the message's quotes.
        message_head = _dumps(f"{access_line_head(method, path, limit)} status=").decode()[:-1]
        head = f',"level":"{level_name}","logger":{_dumps(logger).decode()},"message":{message_head}'
        middle = f',"method":{_dumps(method).decode()},"path":{_dumps(path).decode()},"route":{_dumps(route).decode()}'
        address = f',"client_ip":{_dumps(client_ip).decode()}'
    except TypeError:
        return None
    return _Shape(head, middle, address)
