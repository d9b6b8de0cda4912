"""The logging filter that adds request context to every record."""

from __future__ import annotations

import logging

from django_lantern.context import UNKNOWN, current

CONTEXT_FIELDS = ("request_id", "user_id", "method", "path", "route", "trace_id", "span_id")


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


def _user_id(ctx: object) -> object:
    """The user id if already known; never loads the session or the user here.

    Loading them from a log filter could run a query inside logging (recursion
    through ``django.db.backends`` logging) or sync I/O on the event loop.
    """
    user_id = getattr(ctx, "user_id", None)
    if user_id is not None:
        return user_id
    request = getattr(ctx, "request", None)
    if request is None:
        return UNKNOWN
    from django_lantern.users import cached_user_id

    found = cached_user_id(request)
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
            from django_lantern.errors import report_internal_error

            report_internal_error("log_filter", exc)
        return True
