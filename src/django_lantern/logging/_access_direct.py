"""The direct access path: the line written without the logging machinery.

With the configuration ``build_logging_config`` returns, the ``access``
logger has one handler, ours, with our formatter and our two filters, and
does not propagate. Then a ``LogRecord``, the logger's and handler's filter
chains and ``Handler.handle`` decide nothing: the filters pass an access line
without an exception untouched, and nobody else sees the record. So the
line is formatted from an :class:`AccessEvent` (the access record's
attributes, without the rest of a ``LogRecord``) by the handler's own
formatter, and handed to the handler's stream or queue in one call.

The formatter is the same object, and reads the event through the same
functions as the record (``_access_fields.access_fields``), so both paths
write the same bytes (``tests/logging/test_access_direct.py``). The default
format (``JsonFormatter`` itself) goes further: its usual line is assembled
as text from cached JSON pieces (``_access_json.py``), any other from the
values without an event (``typed_fields``, which ``access_fields`` calls
too), then the formatter's own steps for an access record.

Any other configuration takes the record path: another handler or a
subclass of ours (``assertLogs``, ``caplog``, a project's own), a formatter
or filter not ours, a filter on the logger, ``propagate`` on, a record
factory or a ``Logger`` class or method replaced (OpenTelemetry's and
Sentry's logging integrations do that). So do lines the filters or a
``bind()`` would change: an exception, a streaming outcome, bound fields,
a healthy probe (``SkipHealthyProbes`` drops it, or another handler writes it).

The decision is made again only when what it depends on changes: each line
compares a few identities with the ones it was made from (``DirectAccess.handler``).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django_lantern.context import UNKNOWN, RequestContext
from django_lantern.logging._access_fields import CostValues, typed_fields
from django_lantern.logging._access_json import json_access_line
from django_lantern.logging._access_record import (
    AccessEvent,
    OriginFile,
    access_message,
    cost_values,
    created_now,
)
from django_lantern.logging._record_parts import LEVEL_NAMES
from django_lantern.logging.filters import RepeatedErrorFilter, RequestContextFilter, SkipHealthyProbes
from django_lantern.logging.formatters import JsonFormatter, TextFormatter
from django_lantern.logging.handlers import ERRORS, NonBlockingStreamHandler, SafeStreamHandler, _count
from django_lantern.logging.schemas import DatadogFormatter, EcsFormatter, GcpFormatter, SchemaFormatter
from django_lantern.scrubbing import _configured_or_default as configured_scrubber

__all__ = ["DirectAccess"]

# Exact classes: a subclass may override what the direct path skips.
_HANDLERS = frozenset({SafeStreamHandler, NonBlockingStreamHandler})
_FORMATTERS = frozenset({JsonFormatter, TextFormatter, SchemaFormatter, EcsFormatter, GcpFormatter, DatadogFormatter})
# They pass the direct path's lines unchanged: ``add_context`` finds their fields
# set, ``RepeatedErrorFilter`` reads only lines with an exception, and
# ``SkipHealthyProbes`` drops only healthy probes' lines, which take the record path.
_FILTERS = frozenset({RequestContextFilter, RepeatedErrorFilter, SkipHealthyProbes})
# The steps of ``Logger`` the record path runs; integrations replace them to see every record.
_LOGGER_STEPS = ("makeRecord", "handle", "callHandlers")

Handler = SafeStreamHandler | NonBlockingStreamHandler


class DirectAccess:
    """Per logger, the handler its access lines are written to directly, or None."""

    def __init__(self) -> None:
        self._decided: dict[logging.Logger, tuple[tuple[Any, ...], Handler | None]] = {}

    def handler(self, logger: logging.Logger) -> Handler | None:
        """The handler to write to directly, or None for the record path.

        What the decision depends on is compared by identity on every line, so it is
        kept to a few reads: ``dictConfig`` and ``assertLogs`` change the handler list;
        ``setFormatter`` and ``addFilter`` the handler; integrations the record factory
        or ``Logger``.
        """
        handlers = logger.handlers
        if len(handlers) != 1:
            shape: tuple[Any, ...] = (len(handlers),)
        else:
            handler = handlers[0]
            # The filter lists as they are: the decision keeps copies, which the
            # comparison below reads element by element.
            shape = (
                handler,
                handler.formatter,
                handler.filters,
                logger.filters,
                logger.propagate,
                logger.disabled,
                type(logger),
                logging.getLogRecordFactory(),
                logging.Logger.makeRecord,
                logging.Logger.handle,
                logging.Logger.callHandlers,
            )
        decided = self._decided.get(logger)
        if decided is None or decided[0] != shape:
            kept = tuple(list(each) if type(each) is list else each for each in shape)
            decided = self._decided[logger] = (kept, _direct_handler(logger))
        return decided[1]


def _direct_handler(logger: logging.Logger) -> Handler | None:
    """The logger's handler when nothing but it would see the access record, else None."""
    if type(logger) is not logging.Logger or logger.propagate or logger.disabled or logger.filters:
        return None
    if logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    if any(getattr(logging.Logger, step).__module__ != "logging" for step in _LOGGER_STEPS):
        return None
    if len(logger.handlers) != 1:
        return None
    handler = logger.handlers[0]
    if type(handler) not in _HANDLERS or type(handler.formatter) not in _FORMATTERS:
        return None
    if any(type(each) not in _FILTERS for each in handler.filters):
        return None
    return cast(Handler, handler)


def write_direct(
    handler: Handler,
    logger_name: str,
    level: int,
    origin: OriginFile,
    ctx: RequestContext,
    route: str,
    status: int,
    duration_ms: float,
    client_ip: str | None,
    limit: int,
) -> None:
    """One access line, formatted once and written in one call, as the record path would write it."""
    if level < handler.level:
        return  # the record path's handler would skip it; the logger has no other
    created = created_now()
    formatter = handler.formatter
    if type(formatter) is JsonFormatter:
        try:
            scope = ctx.cost
            cost = scope.values() if scope is not None else cost_values(None)
            # ``formatter.active_scrubber()`` and ``.field_limit``, read without a call.
            scrubber = configured_scrubber() if formatter._scrub_enabled else None
            limit = formatter.field_limit
            line = json_access_line(
                scrubber, limit, logger_name, level, created, ctx, route, status, duration_ms, client_ip, cost
            ) or _json_line(formatter, logger_name, level, created, ctx, route, status, duration_ms, client_ip, cost)
        except Exception:
            line = None  # the event path's formatter writes its failure line
        if line is not None:
            handler.write_line(line)
            return
    user_id = ctx.user_id
    message = access_message(ctx.method, ctx.path, status, duration_ms, user_id, limit)
    event = AccessEvent(
        logger_name,
        level,
        created,
        origin,
        message,
        ctx.request_id,
        user_id,
        ctx.method,
        ctx.path,
        route,
        ctx.trace_id,
        ctx.span_id,
        status,
        duration_ms,
        client_ip,
        ctx.cost,
    )
    try:
        # The formatter reads only the attributes a record has (``AccessEvent``).
        line = handler.formatter.format(cast(logging.LogRecord, event))  # type: ignore[union-attr]
    except RecursionError:
        raise
    except Exception:
        _count(ERRORS)  # as the handler's ``handleError`` counts it
        return
    handler.write_line(line)


def _json_line(
    formatter: JsonFormatter,
    logger_name: str,
    level: int,
    created: float,
    ctx: RequestContext,
    route: str,
    status: int,
    duration_ms: float,
    client_ip: str | None,
    cost: CostValues,
) -> str | None:
    """The default format's line from ``typed_fields``, as ``formatter.format`` writes the
    access record's, when it is not the usual one (``_access_json.py``); None when the
    values need the general path."""
    user_id = ctx.user_id
    # The user id and the duration as ``set_access_fields`` sets them on the record.
    held = (
        ctx.request_id, UNKNOWN if user_id is None else user_id, ctx.method, ctx.path, route,
        ctx.trace_id, ctx.span_id, status, round(duration_ms, 2), client_ip,
    )  # fmt: skip
    level_name = LEVEL_NAMES.get(level) or logging.getLevelName(level).lower()
    fields = typed_fields(formatter, created, level_name, logger_name, held, cost)
    if fields is None:
        return None
    return formatter.serialise(formatter.add_release(formatter.json_fields(fields)))
