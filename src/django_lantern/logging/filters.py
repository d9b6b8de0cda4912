"""The logging filters: request context on every record; healthy probes' access lines left out."""

from __future__ import annotations

import logging
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.context import CONTEXT_FIELDS, NO_FIELDS, UNKNOWN, RequestContext, current
from django_lantern.http._users import known_user_id
from django_lantern.logging._access_record import HealthyProbeLine

__all__ = ["RequestContextFilter", "SkipHealthyProbes"]


def add_context(record: logging.LogRecord) -> None:
    """Set the context attributes on ``record``; an explicit ``extra`` wins."""
    attrs = record.__dict__
    if "request_id" in attrs and "route" in attrs:
        return  # already enriched by another handler's filter
    ctx = current.get()
    if ctx is None:
        for name in CONTEXT_FIELDS:
            attrs.setdefault(name, UNKNOWN)
        return
    attrs.setdefault("request_id", ctx.request_id)
    attrs.setdefault("user_id", _user_id(ctx))
    attrs.setdefault("method", ctx.method)
    attrs.setdefault("path", ctx.path)
    attrs.setdefault("route", ctx.route)
    attrs.setdefault("trace_id", ctx.trace_id)
    attrs.setdefault("span_id", ctx.span_id)
    fields = ctx.fields  # from django_lantern.bind(); usually none: one identity test
    if fields is not NO_FIELDS:
        for name, value in fields.items():
            attrs.setdefault(name, value)


def _user_id(ctx: RequestContext) -> Any:
    found = known_user_id(ctx)
    return UNKNOWN if found is None else found


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``user_id``, ``method``, ``path``, ``route``,
    ``trace_id`` and ``span_id`` to every record (``"-"`` when unknown).

    Attach it to handlers (``build_logging_config()`` does). It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            add_context(record)
        except Exception as exc:
            # Logging must never raise into the caller's code; the formatter
            # fills in "-" for whatever is missing.
            report_internal_error("log_filter", exc)
        return True


class SkipHealthyProbes(logging.Filter):
    """Drops the access lines of healthy probes: ``/healthz`` and ``/readyz`` answered
    2xx or 3xx faster than ``LANTERN["SLOW_PROBE_MS"]`` (docs/logging.md).

    ``build_logging_config()`` puts it on its handler. The access log does not
    even build such a line when every handler that would write it has this filter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return type(record.msg) is not HealthyProbeLine
