"""``LanternMiddleware``: the one layer, first in ``MIDDLEWARE``.

Per request it: assigns the request id (validated incoming header or a fresh
one), binds the request context for logging, answers ``/healthz``, ``/readyz``
and ``/metrics`` itself before any other middleware can redirect or refuse a
probe, echoes the id on the response, records metrics, and writes exactly one
access record.

Sync and async capable with no thread hop: the mode is detected once in
``__init__``; both paths share the same plain helpers and only the awaits
differ. Everything it does after the view is fail-safe: an error in
observability code is counted and logged once, and never turns a good
response into a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import Token
from functools import partial
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from django_lantern import request_id as request_ids
from django_lantern import sentry, tracing
from django_lantern._errors import report_internal_error
from django_lantern._exceptions import on_exception
from django_lantern.conf import LanternSettings, get_settings
from django_lantern.context import RequestContext, current
from django_lantern.health import _views as health_views
from django_lantern.http import _streaming as streams
from django_lantern.http._probes import HEALTHZ, READYZ, classify
from django_lantern.http._request_id import open_context
from django_lantern.http._response_headers import decorate
from django_lantern.http._streaming import StreamEnd, bind_streaming_context
from django_lantern.http._trace_context import incoming_trace_id
from django_lantern.http._users import aresolve_user_id, resolve_user_id
from django_lantern.logging._access_log import AccessLog
from django_lantern.metrics import _recorder as recorder
from django_lantern.metrics import _views as metrics_views
from django_lantern.tracing import ServerSpan

__all__ = ["LanternMiddleware"]

logger = logging.getLogger("django_lantern.request_id")


def _leave(
    span: ServerSpan | None,
    ctx: RequestContext,
    response: HttpResponseBase | None,
    token: Token[RequestContext | None],
    *,
    streaming: bool,
) -> None:
    """End the span (or, for a streaming body, only detach it: the stream's end ends it)
    and unbind the context; the reset always happens."""
    try:
        if span is not None:
            if streaming:
                tracing.detach(span)
            else:
                tracing.end(span, ctx, response)
    except Exception as exc:
        report_internal_error("tracing_end", exc)
    finally:
        current.reset(token)


class LanternMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase] | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)
        self._access = AccessLog()

    # -- entry points -------------------------------------------------------
    # The two paths differ only where they await; everything else is in the
    # shared helpers (``_enter``, ``_finish``, ``_leave``).
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self._is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        cfg, ctx, span, token = self._enter(request)
        response: HttpResponseBase | None = None
        kind = None
        try:
            kind = classify(request, cfg, ctx)
            if kind is None:
                response = cast(HttpResponseBase, self.get_response(request))  # sync mode: never a coroutine
            elif kind == READYZ:
                response = health_views.readyz_response(request)
            else:
                response = self._serve_simple_probe(kind, request)
            return response
        except BaseException as exc:
            # Counted by Django's got_request_exception, which it sends for this
            # one too once it leaves the chain; the span is ended before that.
            on_exception(exc, None if span is None else span.span, count=False)
            raise
        finally:
            streaming = False
            try:
                user_id = None if kind else self._user_id(request)
                streaming = self._finish(request, response, ctx, cfg, started, user_id, kind, span)
            finally:
                _leave(span, ctx, response, token, streaming=streaming)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        cfg, ctx, span, token = self._enter(request)
        response: HttpResponseBase | None = None
        kind = None
        try:
            kind = classify(request, cfg, ctx)
            if kind is None:
                response = await self.get_response(request)  # type: ignore[misc]
            elif kind == READYZ:
                response = await health_views.areadyz_response(request)
            else:
                response = self._serve_simple_probe(kind, request)
            return response
        except BaseException as exc:
            # Counted by Django's got_request_exception, which it sends for this
            # one too once it leaves the chain; the span is ended before that.
            on_exception(exc, None if span is None else span.span, count=False)
            raise
        finally:
            streaming = False
            try:
                user_id = None if kind else await self._auser_id(request)
                streaming = self._finish(request, response, ctx, cfg, started, user_id, kind, span)
            finally:
                _leave(span, ctx, response, token, streaming=streaming)

    def _enter(
        self, request: HttpRequest
    ) -> tuple[LanternSettings, RequestContext, ServerSpan | None, Token[RequestContext | None]]:
        """Start the span, choose the id (once), bind the context; log a rejected id inside it."""
        cfg = get_settings()
        # Tracing and Sentry hooks: one attribute check each when they are off.
        span = tracing.begin(request, cfg) if tracing.state.tracer is not None else None
        trace_id = span_id = None
        if span is not None:
            trace_id, span_id = span.trace_id, span.span_id
        elif cfg.request_id_from_trace:
            trace_id = incoming_trace_id(request.META)
        ctx, rejected_length = open_context(request, cfg, trace_id, span_id)
        try:
            recorder.request_started()
        except Exception as exc:  # fail safe: a metrics fault never blocks the request
            report_internal_error("metrics", exc)
        if span is not None:
            tracing.attach(span, request, ctx)  # never raises
        if sentry.state.enabled:
            sentry.bind_request(ctx)
        token = current.set(ctx)
        if rejected_length is not None:
            try:
                # Logged inside the context, so the line carries the new id.
                request_ids.log_rejected(request_ids.HEADER, rejected_length)
            except Exception as exc:  # the token is set: nothing may raise before the caller's finally
                report_internal_error("request_id", exc)
        return cfg, ctx, span, token

    # -- shared helpers (no I/O) ---------------------------------------------
    @staticmethod
    def _serve_simple_probe(kind: str, request: HttpRequest) -> HttpResponseBase:
        if kind == HEALTHZ:
            return health_views.healthz_response(request)
        return metrics_views.metrics_response(request)

    @staticmethod
    def _user_id(request: HttpRequest) -> Any:
        try:
            return resolve_user_id(request)
        except Exception as exc:
            report_internal_error("user_id", exc)
            return None

    @staticmethod
    async def _auser_id(request: HttpRequest) -> Any:
        try:
            return await aresolve_user_id(request)
        except Exception as exc:
            report_internal_error("user_id", exc)
            return None

    def _finish(
        self,
        request: HttpRequest,
        response: HttpResponseBase | None,
        ctx: RequestContext,
        cfg: LanternSettings,
        started: float,
        user_id: Any,
        kind: str | None,
        span: ServerSpan | None = None,
    ) -> bool:
        """Headers, metrics and the access line; True when a streaming body defers
        the last two (and the span's end) to the end of the stream."""
        # Duration first, so it does not include this bookkeeping. Each step has
        # its own guard: a failure in one must not skip the others (metrics
        # first, so the in-flight gauge always comes back down).
        seconds = time.perf_counter() - started
        status = response.status_code if response is not None else 500
        if response is not None and response.streaming and kind is None:
            try:
                end = StreamEnd(partial(self._stream_ended, response, ctx, cfg, started, user_id, span))
                decorate(request, response, ctx, cfg, status)
                bind_streaming_context(response, ctx, end)  # type: ignore[arg-type]
                return True
            except Exception as exc:  # account for it now rather than never
                report_internal_error("response", exc)
        self._account(ctx, status, seconds, kind)
        if response is not None and not response.streaming:
            try:
                decorate(request, response, ctx, cfg, status)
            except Exception as exc:
                report_internal_error("response", exc)
        self._log_access(ctx, cfg, status, seconds, user_id)
        return False

    @staticmethod
    def _account(ctx: RequestContext, status: int, seconds: float, kind: str | None) -> None:
        try:
            recorder.request_finished(ctx.method, ctx.route, status, seconds, probe=kind is not None)
        except Exception as exc:
            report_internal_error("metrics", exc)

    def _log_access(
        self,
        ctx: RequestContext,
        cfg: LanternSettings,
        status: int,
        seconds: float,
        user_id: Any,
        outcome: str = streams.COMPLETED,
        error: BaseException | None = None,
    ) -> None:
        try:
            if user_id is not None:
                ctx.user_id = user_id
            self._access.write(ctx, cfg, status, seconds * 1000, user_id, outcome, error)
        except Exception as exc:
            report_internal_error("access_log", exc)

    def _stream_ended(
        self,
        response: HttpResponseBase,
        ctx: RequestContext,
        cfg: LanternSettings,
        started: float,
        user_id: Any,
        span: ServerSpan | None,
        outcome: str,
        error: BaseException | None,
    ) -> None:
        """The end of a streaming request, once its body is done (see ``streaming.StreamEnd``).

        Runs inside the server's iteration of the body, so it must never raise.
        A body that raised is a 500 in the access line, the metrics and the
        span, whatever status line already went out.
        """
        seconds = time.perf_counter() - started
        failed = outcome == streams.FAILED
        status = 500 if failed else response.status_code
        token = current.set(ctx)
        try:
            # Each step guarded on its own (as in ``_finish``): metrics first.
            self._account(ctx, status, seconds, None)
            self._log_access(ctx, cfg, status, seconds, user_id, outcome, error)
            if error is not None:
                on_exception(error, None if span is None else span.span)
            if span is not None:
                tracing.end(span, ctx, None if failed else response)  # never raises
        finally:
            current.reset(token)
