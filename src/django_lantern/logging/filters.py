"""The logging filters: request context on every record; repeated errors folded; Django's 4xx lines
that repeat the access line dropped; healthy probes' access lines left out."""

from __future__ import annotations

import logging
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.context import CONTEXT_FIELDS, NO_FIELDS, UNKNOWN, RequestContext, current
from django_lantern.http._users import known_user_id
from django_lantern.logging._access_record import HealthyProbeLine
from django_lantern.logging._folding import DEFAULT_INTERVAL, DEFAULT_MAX_ERRORS, RepeatBudget, fold
from django_lantern.logging._held import flush as flush_debug_lines

__all__ = ["RepeatedErrorFilter", "RequestContextFilter", "SkipClientErrorRequestLines", "SkipHealthyProbes"]


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
    if ctx.held is not None and record.levelno >= logging.ERROR:
        # DEBUG_ON_ERROR: the run's DEBUG lines go out before its first ERROR line, to every handler.
        flush_debug_lines(ctx)
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


class RepeatedErrorFilter(logging.Filter):
    """Writes the stack of a repeated error once per ``interval`` seconds.

    The first record of an error (same logger and call, route, exception type
    and frames: ``logging/_folding.py``) passes, and then one per ``interval``;
    the identical ones in between are dropped and counted
    (``lantern_log_records_folded_total``), and the next one that passes
    carries ``folded``, how many it stands for. An access line is never
    dropped (without its stack instead). Records without an exception pass
    untouched: the test costs one attribute read.

    The table of errors is this filter's: attach one instance to every
    handler (``build_logging_config()`` does). The record itself is not
    changed, so Sentry's logging integration and other handlers still see
    every exception. ``interval`` 0 passes everything.
    """

    def __init__(
        self, name: str = "", interval: float = DEFAULT_INTERVAL, max_errors: int = DEFAULT_MAX_ERRORS
    ) -> None:
        super().__init__(name)
        self.interval = float(interval)
        self.budget = RepeatBudget(max_errors)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or self.interval <= 0:
            return True
        try:
            return fold(record, self.budget, self.interval)
        except Exception as exc:
            # Better a repeated stack than a lost one.
            report_internal_error("log_fold", exc)
            return True


class SkipClientErrorRequestLines(logging.Filter):
    """Drops ``django.request``'s WARNING for a 4xx response ("Not Found: /favicon.ico").

    The access line already records that request, status and path, with its
    request id, so the WARNING would be a second line for one request.
    ``django.request``'s 5xx ERRORs pass: they carry the traceback, and the
    admins' e-mail and Sentry's logging integration read them.
    ``build_logging_config()`` puts it on the ``django.request`` logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (isinstance(status, int) and 400 <= status < 500)


class SkipHealthyProbes(logging.Filter):
    """Drops the access lines of healthy probes: ``/healthz`` and ``/readyz`` answered
    2xx or 3xx faster than ``LANTERN["SLOW_PROBE_MS"]`` (docs/logging.md).

    ``build_logging_config()`` puts it on its handler. The access log does not
    even build such a line when every handler that would write it has this filter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return type(record.msg) is not HealthyProbeLine
