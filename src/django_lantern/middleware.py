"""``LanternMiddleware``: the one layer, first in ``MIDDLEWARE``.

Per request it: assigns the request id (validated incoming header or a fresh
one), binds the request context for logging, answers ``/healthz``, ``/readyz``,
``/metrics``, ``/statusz`` and ``/threadz`` itself before any other middleware can redirect or refuse a
probe, echoes the id on the response, records metrics, and writes exactly one
access record.

Sync and async capable with no thread hop: the mode is detected once in
``__init__``; both paths share the same plain helpers, which take the
request's one ``_Exchange``, and only the awaits differ. Everything it does after the view is fail-safe: an error in
observability code is counted and logged once, and never turns a good
response into a 500.
"""

from __future__ import annotations

import time
from asyncio import current_task
from collections.abc import Awaitable, Callable
from contextvars import Token
from functools import partial
from threading import get_ident
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from django_lantern import _taps, sentry, tracing
from django_lantern import request_id as request_ids
from django_lantern._errors import report_internal_error
from django_lantern._exceptions import on_exception
from django_lantern.conf import LanternSettings, get_settings, settings_for_server
from django_lantern.context import RequestContext, current
from django_lantern.health import _views as health_views
from django_lantern.http import _streaming as streams
from django_lantern.http._inflight import INFLIGHT
from django_lantern.http._probes import HEALTH_PROBES, HEALTHZ, READYZ, STATUS, THREADS, probe_kind, probe_route
from django_lantern.http._request_id import open_context
from django_lantern.http._response_headers import decorate
from django_lantern.http._streaming import StreamEnd, bind_streaming_context
from django_lantern.http._trace_context import incoming_trace_id
from django_lantern.http._users import aresolve_user_id, resolve_user_id
from django_lantern.logging import _held as debug_lines
from django_lantern.logging._access_log import AccessLog
from django_lantern.metrics import _insights as query_insights
from django_lantern.metrics import _recorder as recorder
from django_lantern.metrics import _views as metrics_views
from django_lantern.metrics._status import status_response
from django_lantern.metrics._threads import threads_response
from django_lantern.scrubbing import REDACTED_PATH_ATTRIBUTE, redacted_path
from django_lantern.tracing import ServerSpan

__all__ = ["LanternMiddleware"]


class _Exchange:
    """One request, from ``_enter`` to its end: what the end needs, in one place.

    The end comes when the middleware returns, or, for a streaming body, when
    the body ends (``StreamEnd`` holds the exchange until then).
    """

    __slots__ = (
        "cfg",
        "ctx",
        "kind",
        "metrics",
        "rejected_length",
        "request",
        "response",
        "span",
        "started",
        "token",
    )

    def __init__(
        self,
        request: HttpRequest,
        cfg: LanternSettings,
        ctx: RequestContext,
        span: ServerSpan | None,
        token: Token[RequestContext | None],
        started: float,
        metrics: recorder.RecorderState | None,
        rejected_length: int | None,
        kind: str | None,
    ) -> None:
        self.request = request
        self.cfg = cfg
        self.ctx = ctx
        self.span = span
        self.token = token
        self.started = started
        # The recorder's state, bound once at the start (``recorder.request_started``).
        self.metrics = metrics
        # The length of an incoming id that was refused, warned about at the end.
        self.rejected_length = rejected_length
        # The probe this middleware answers itself (``http/_probes.py``), None for the app's views.
        self.kind = kind
        self.response: HttpResponseBase | None = None

    @property
    def otel_span(self) -> Any:
        return None if self.span is None else self.span.span


class LanternMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase] | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        # Once per process, as the server loads: no app or a bad LANTERN stops it here.
        settings_for_server()
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)
        self._access = AccessLog()
        # Django calls ``process_view`` right after URL resolution; given in
        # the handler's own mode, so the async path makes no thread hop.
        self.process_view = self._aprocess_view if self._is_async else self._process_view

    # -- entry points -------------------------------------------------------
    # The two paths differ only where they await; everything else is in the
    # shared helpers, which take the request's ``_Exchange``.
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self._is_async:
            return self.__acall__(request)
        exchange = self._enter(request)
        INFLIGHT[exchange] = get_ident()  # the thread that runs the view (http/_inflight.py)
        kind = exchange.kind
        try:
            if kind is None:
                response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]  # sync: no coroutine
                exchange.response = response
                if query_insights.REQUEST_ATTRIBUTE in request.__dict__:  # else no query made a scope
                    _queries_done(exchange, fail=True)
            elif kind == READYZ:
                exchange.response = health_views.readyz_response(request)
            else:
                exchange.response = _simple_probe(kind, request)
            return exchange.response
        except BaseException as exc:
            _raised(exchange, exc)
            raise
        finally:
            try:
                if kind is None:  # a probe answered here has no user
                    try:
                        user_id = resolve_user_id(request, exchange.cfg)
                        if user_id is not None:  # else keep one ``on_logged_out`` may have set
                            exchange.ctx.user_id = user_id
                    except Exception as exc:
                        report_internal_error("user_id", exc)
            finally:
                self._end(exchange)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        exchange = self._enter(request)
        INFLIGHT[exchange] = current_task()
        kind = exchange.kind
        try:
            if kind is None:
                exchange.response = await self.get_response(request)  # type: ignore[misc]
                if query_insights.REQUEST_ATTRIBUTE in request.__dict__:
                    _queries_done(exchange, fail=True)
            elif kind == READYZ:
                exchange.response = await health_views.areadyz_response(request)
            else:
                exchange.response = _simple_probe(kind, request)
            return exchange.response
        except BaseException as exc:
            _raised(exchange, exc)
            raise
        finally:
            try:
                if kind is None:
                    try:
                        user_id = await aresolve_user_id(request, exchange.cfg)
                        if user_id is not None:
                            exchange.ctx.user_id = user_id
                    except Exception as exc:
                        report_internal_error("user_id", exc)
            finally:
                self._end(exchange)

    @staticmethod
    def _process_view(request: HttpRequest, view: object, args: object, kwargs: dict[str, Any]) -> None:
        if kwargs:  # a route without parameters costs nothing more
            _resolved(request)

    @staticmethod
    async def _aprocess_view(request: HttpRequest, view: object, args: object, kwargs: dict[str, Any]) -> None:
        if kwargs:
            _resolved(request)

    # -- shared helpers (no I/O) ---------------------------------------------
    @staticmethod
    def _enter(request: HttpRequest) -> _Exchange:
        """Start the span, choose the id (once), tell a probe this middleware answers, bind the context."""
        started = time.perf_counter()
        cfg = get_settings()
        # Tracing and Sentry hooks: one attribute check each when they are off.
        span = tracing.begin(request, cfg) if tracing.state.tracer is not None else None
        if span is not None:
            ctx, rejected_length = open_context(request, cfg, span.trace_id, span.span_id)
        elif cfg.request_id_from_trace:
            ctx, rejected_length = open_context(request, cfg, incoming_trace_id(request.META))
        else:
            ctx, rejected_length = open_context(request, cfg)
        kind = probe_kind(request.path_info, cfg)
        if kind is not None:
            ctx.probe_route = probe_route(request.path_info, cfg)
        if cfg.debug_on_error:
            debug_lines.begin(ctx, cfg.debug_on_error_records)
        metrics = None
        try:
            metrics = recorder.request_started()
        except Exception as exc:  # fail safe: a metrics fault never blocks the request
            report_internal_error("metrics", exc)
        if span is not None:
            tracing.attach(span, request, ctx)  # never raises
        if sentry.state.enabled:
            sentry.bind_request(ctx)
        return _Exchange(request, cfg, ctx, span, current.set(ctx), started, metrics, rejected_length, kind)

    def _end(self, exchange: _Exchange) -> None:
        """The request's end, in order: the refused id's warning, the headers, the N+1
        WARNINGs, the metrics, the access line, the span; the context reset always happens.

        A streaming body defers the metrics, the access line and the span's end to
        the end of the stream (``_stream_ended``). Each step has its own guard: a
        failure in one must not skip the others (metrics before the access line, so
        the in-flight gauge always comes back down).
        """
        # Duration first, so it does not include this bookkeeping.
        seconds = time.perf_counter() - exchange.started
        ctx = exchange.ctx
        response = exchange.response
        streaming = False
        try:
            if exchange.rejected_length is not None:
                _log_rejected(exchange.rejected_length)
            status = response.status_code if response is not None else 500
            whole = response  # the body is at hand, unless it streams
            if response is not None and response.streaming:
                whole = None
                if exchange.kind is None:
                    try:
                        decorate(exchange.request, response, ctx, exchange.cfg, status)
                        end = StreamEnd(partial(self._stream_ended, exchange))
                        bind_streaming_context(response, ctx, end)  # type: ignore[arg-type]
                        streaming = True
                        return
                    except Exception as exc:  # account for it now rather than never
                        report_internal_error("response", exc)
            if query_insights.REQUEST_ATTRIBUTE in exchange.request.__dict__:
                _queries_done(exchange)
            self._settle(exchange, status, seconds, whole)
        finally:
            span = exchange.span
            try:
                if span is not None:
                    if streaming:
                        tracing.detach(span)  # the stream's end ends it
                    else:
                        tracing.end(span, ctx, exchange.response)
            except Exception as exc:
                report_internal_error("tracing_end", exc)
            finally:
                current.reset(exchange.token)
                del INFLIGHT[exchange]

    def _settle(
        self,
        exchange: _Exchange,
        status: int,
        seconds: float,
        whole: HttpResponseBase | None,
        outcome: str = streams.COMPLETED,
        error: BaseException | None = None,
    ) -> None:
        """The metrics, then the headers and size of a ``whole`` (not streaming) response,
        then the access line: in this order, each step guarded on its own."""
        ctx = exchange.ctx
        kind = exchange.kind
        probe = kind is not None
        route = None
        try:
            route = ctx.route
            # Positional: keywords cost this per-request call more.
            recorder.request_finished(ctx.method, route, status, seconds, probe, exchange.metrics, ctx.cost)
            if seconds >= _taps.slow_after and not probe and _taps.slow_request is not None:
                _taps.slow_request(ctx.method, route, status, seconds)
        except Exception as exc:
            report_internal_error("metrics", exc)
        if whole is not None:
            try:
                length = decorate(exchange.request, whole, ctx, exchange.cfg, status)
                if length is None:  # no Content-Length (CommonMiddleware sets one)
                    # The body's parts summed, never joined (``.content`` would copy the body).
                    parts: list[bytes] = whole._container  # type: ignore[attr-defined]
                    length = sum(map(len, parts))
                ctx.cost.response_bytes = length
            except Exception as exc:
                report_internal_error("response", exc)
        try:
            if ctx.held is not None:  # DEBUG_ON_ERROR: before the access line
                debug_lines.settle(ctx, status >= 500 or _slow(exchange.cfg, seconds))
            self._access.write(ctx, exchange.cfg, status, seconds * 1000, outcome, error, kind in HEALTH_PROBES, route)
        except Exception as exc:
            report_internal_error("access_log", exc)

    def _stream_ended(self, exchange: _Exchange, outcome: str, error: BaseException | None) -> None:
        """The end of a streaming request, once its body is done (see ``streaming.StreamEnd``).

        Runs inside the server's iteration of the body, so it must never raise.
        A body that raised is a 500 in the access line, the metrics and the
        span, whatever status line already went out.
        """
        seconds = time.perf_counter() - exchange.started
        failed = outcome == streams.FAILED
        response = exchange.response
        status = 500 if failed or response is None else response.status_code
        token = current.set(exchange.ctx)
        try:
            # Each step guarded on its own (as in ``_end``): metrics first.
            if query_insights.REQUEST_ATTRIBUTE in exchange.request.__dict__:
                _queries_done(exchange)
            self._settle(exchange, status, seconds, None, outcome, error)
            if error is not None:
                on_exception(error, exchange.otel_span)
            if exchange.span is not None:
                tracing.end(exchange.span, exchange.ctx, None if failed else response)  # never raises
        finally:
            current.reset(token)


def _resolved(request: HttpRequest) -> None:
    """The URL is resolved: if its parameters hold secrets, every later line,
    the access line, the span and Sentry show the redacted path (``scrubbing.redacted_path``)."""
    try:
        found = redacted_path(request)
        if found is None:
            return
        setattr(request, REDACTED_PATH_ATTRIBUTE, found)
        ctx = current.get()
        if ctx is not None and ctx.request is request:
            ctx.path = found.path
        span = getattr(request, "_lantern_span", None)
        if span is not None:
            tracing.redact_path(span, found.path)
        if sentry.state.enabled:
            sentry.note_resolved(request, found.path)
    except Exception as exc:
        report_internal_error("redact_path", exc)


def _slow(cfg: LanternSettings, seconds: float) -> bool:
    return cfg.slow_request_ms is not None and seconds * 1000 >= cfg.slow_request_ms


def _simple_probe(kind: str, request: HttpRequest) -> HttpResponseBase:
    if kind == HEALTHZ:
        return health_views.healthz_response(request)
    if kind == STATUS:
        return status_response(request)
    if kind == THREADS:
        return threads_response(request)
    return metrics_views.metrics_response(request)


def _raised(exchange: _Exchange, exc: BaseException) -> None:
    # Counted by Django's got_request_exception, which it sends for this
    # one too once it leaves the chain; the span is ended before that.
    on_exception(exc, exchange.otel_span, count=False)


def _log_rejected(length: int) -> None:
    # At the end, in the context: the line carries the new id and the route the access line has.
    try:
        request_ids.log_rejected(request_ids.HEADER, length)
    except Exception as exc:
        report_internal_error("request_id", exc)


def _queries_done(exchange: _Exchange, *, fail: bool = False) -> None:
    """The request's N+1 WARNINGs (a probe's queries are dropped). ``fail``: right after
    the view, where ``N_PLUS_ONE = "raise"`` fails the request; a streaming body's
    queries are still to come, so it ends with the stream. Called only when a query made
    a scope (``query_insights.REQUEST_ATTRIBUTE``), which most requests of a cached page do not."""
    response = exchange.response
    if fail and response is not None and response.streaming:
        return
    try:
        query_insights.end_request(exchange.request, emit=exchange.kind is None, fail=fail)
    except query_insights.NPlusOneError:
        exchange.response = None  # failed: a 500 in the access line and the metrics
        raise
