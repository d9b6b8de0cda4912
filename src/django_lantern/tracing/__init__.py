"""OpenTelemetry tracing started by ``LanternMiddleware`` (extra: ``django-lantern[otel]``).

Call :func:`configure` once per process (in ``wsgi.py``/``asgi.py``, or
gunicorn's ``post_fork``): it builds the SDK's tracer provider and an
OTLP/HTTP exporter from the standard ``OTEL_*`` variables and turns the
middleware's server span on. :func:`enable` does only the latter, for a
provider you built yourself.

Per request the middleware then:

- validates the incoming W3C ``traceparent``/``tracestate`` more strictly than
  the propagator (all-zero ids, wrong lengths, version ``ff``, extra fields on
  version ``00``, uppercase hex, more than one header, a ``tracestate`` over
  512 characters or 32 members) and starts a new trace when they fail;
- starts a SERVER span (sync and async alike, no thread hop), named
  ``"GET tasks/<int:pk>/edit/"`` once the route is known, with the HTTP
  semantic-convention attributes and ``request.id``, every attribute passed
  through the scrubber;
- puts ``trace_id``/``span_id`` (32/16 zero-padded hex) on the request
  context, so every log record of the request carries them, sampled or not;
- records the status, and the exception (scrubbed) when the view raised.

With ``LANTERN["REQUEST_ID_FROM_TRACE"]`` the request id falls back to the
trace id when no valid ``X-Request-Id`` came in (with tracing off, to the
trace id of a valid incoming ``traceparent``).

Nothing here imports OpenTelemetry until :func:`configure` or :func:`enable`
runs; with tracing off the middleware pays one attribute check.
"""

from __future__ import annotations

import os
import re
import traceback
from typing import TYPE_CHECKING, Any

from django_lantern import __version__
from django_lantern._errors import report_internal_error
from django_lantern._release import identity
from django_lantern.context import UNKNOWN, RequestContext, current
from django_lantern.scrubbing import redact_request_secrets, scrub_text
from django_lantern.scrubbing._cut import capped
from django_lantern.tracing import _hooks as tracing_hooks
from django_lantern.tracing._attributes import STANDARD_METHODS, URL_PATH_LIMIT, scrubbed, start_attributes
from django_lantern.tracing._exclusion import excluded_urls_from_env, wants_server_span
from django_lantern.tracing._exporters import span_exporters
from django_lantern.tracing._propagation import parent_context

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

    from django_lantern.conf import LanternSettings

__all__ = ["configure", "disable", "enable"]

MISSING_EXTRA = (
    "django_lantern.tracing needs the OpenTelemetry SDK and OTLP/HTTP exporter, which are not installed; "
    "install them with: pip install 'django-lantern[otel]'"
)

REQUEST_ID_ATTRIBUTE = "request.id"


class _State:
    """The tracer the middleware uses; ``None`` means tracing is off."""

    tracer: Any = None
    provider: Any = None
    excluded_urls: re.Pattern[str] | None = None  # OTEL_PYTHON_DJANGO_EXCLUDED_URLS


state = _State()


def enable(tracer_provider: Any = None) -> None:
    """Turn the middleware's server span on, using ``tracer_provider`` (default:
    the global one). Exceptions raised by views are recorded on that span by
    ``signals.on_request_exception``, the one receiver for them.

    Probes, ``/metrics`` and URLs matching ``OTEL_PYTHON_DJANGO_EXCLUDED_URLS``
    get no span (see :mod:`django_lantern.tracing._exclusion`)."""
    try:
        from opentelemetry import trace
    except ImportError as exc:
        raise ImportError(MISSING_EXTRA) from exc
    state.excluded_urls = excluded_urls_from_env()

    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    state.provider = provider
    state.tracer = provider.get_tracer("django_lantern", __version__)


def disable() -> None:
    """Turn the middleware's server span off (the provider is left as it is)."""
    state.tracer = None
    state.provider = None
    state.excluded_urls = None


def configure(*, set_global: bool = True) -> Any:
    """Build the SDK tracer provider from the ``OTEL_*`` variables and enable tracing.

    - ``OTEL_SDK_DISABLED=true``: nothing is configured, returns None;
    - resource: ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``; ``service.version`` is the
      release ``/statusz`` shows unless ``OTEL_RESOURCE_ATTRIBUTES`` sets it;
    - sampler: ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` (default parent-based, always on);
    - exporters: ``OTEL_TRACES_EXPORTER`` (``otlp`` default, ``console``, ``none``, entry points);
      the OTLP exporter speaks HTTP/protobuf or gRPC (``OTEL_EXPORTER_OTLP_PROTOCOL``, see
      :mod:`django_lantern.tracing._exporters`) and reads ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT``,
      ``..._HEADERS``, ``..._CERTIFICATE``, ``..._TIMEOUT``, ``..._COMPRESSION`` itself;
      TLS is whatever the endpoint's scheme says, never forced off.

    Returns the provider. With ``set_global`` (the default) it also becomes the
    global provider, so other instrumentation (database, HTTP clients) nests
    its spans under the middleware's.
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError(MISSING_EXTRA) from exc
    exporters = span_exporters()  # validates every name and protocol before anything is built
    provider = TracerProvider(resource=release_resource(Resource))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if set_global:
        trace.set_tracer_provider(provider)
    enable(provider)
    return provider


def release_resource(resource_class: Any) -> Any:
    """The SDK's resource from the environment, over ``service.version`` = the release."""
    release = identity().release
    base = resource_class({"service.version": release} if release else {})
    # merge(): the argument's attributes win, so OTEL_RESOURCE_ATTRIBUTES' own service.version does.
    return base.merge(resource_class.create())


# -- the middleware's hooks ---------------------------------------------------
class ServerSpan:
    """The span the middleware started, and the context token to detach."""

    __slots__ = ("method", "parent", "span", "span_id", "token", "trace_id")

    def __init__(self, span: Any, token: object, method: str) -> None:
        self.span = span
        self.token = token
        self.method = method
        self.parent: Any = None
        # The span's ids as 32 and 16 hex digits; None when the span has none.
        self.trace_id: str | None = None
        self.span_id: str | None = None


def begin(request: HttpRequest, cfg: LanternSettings) -> ServerSpan | None:
    """Start the server span, when tracing is on and the URL is not excluded.

    The span's ids are on the returned object; the middleware gives them to the
    request context, which chooses the request id, then calls :func:`attach`.
    Never raises: a failure is counted and the request goes on untraced.
    """
    tracer = state.tracer
    if tracer is None or not wants_server_span(request, cfg, state.excluded_urls):
        return None
    try:
        from opentelemetry import trace

        method = request.method or ""
        if method not in STANDARD_METHODS:
            method = "_OTHER"  # semconv: bounded span names and attribute values
        parent = parent_context(request.META)
        span = tracer.start_span(
            "HTTP" if method == "_OTHER" else method,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes=scrubbed(start_attributes(request, method)),
        )
        server_span = ServerSpan(span, None, method)
        server_span.parent = parent
        span_context = span.get_span_context()
        if span_context.is_valid:
            # Zero-padded, sampled or not: a non-recording span still has ids,
            # and a log line without them cannot be joined to the trace.
            server_span.trace_id = format(span_context.trace_id, "032x")
            server_span.span_id = format(span_context.span_id, "016x")
        return server_span
    except Exception as exc:
        report_internal_error("tracing_begin", exc)
        return None


def attach(server_span: ServerSpan, request: HttpRequest, ctx: RequestContext) -> None:
    """Label the span with the chosen request id, make it current and run the
    start hooks. Never raises."""
    try:
        from opentelemetry import context as otel_context
        from opentelemetry import trace

        span = server_span.span
        span.set_attribute(REQUEST_ID_ATTRIBUTE, ctx.request_id)
        span_context = span.get_span_context()
        if span_context.is_valid:
            ctx.trace_sampled = bool(span_context.trace_flags.sampled)
        server_span.token = otel_context.attach(trace.set_span_in_context(span, server_span.parent))
        request._lantern_span = span  # type: ignore[attr-defined]  # for the exception receiver
        tracing_hooks.on_start(span, request)  # captured headers, request_hook; never raises
    except Exception as exc:
        report_internal_error("tracing_begin", exc)


def end(server_span: ServerSpan, ctx: RequestContext, response: HttpResponseBase | None) -> None:
    """Name the span by route, record the status, end it and detach its context."""
    span = server_span.span
    try:
        try:
            from opentelemetry.trace import Status, StatusCode

            route = ctx.route
            if route != UNKNOWN:
                span.update_name(f"{'HTTP' if server_span.method == '_OTHER' else server_span.method} {route}")
                span.set_attributes(scrubbed({"http.route": route}))
            status = response.status_code if response is not None else 500
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                # Server spans: only 5xx is an error; 4xx is the client's.
                if not getattr(span, "attributes", {}).get("error.type"):
                    span.set_attribute("error.type", str(status))
                span.set_status(Status(StatusCode.ERROR))
            tracing_hooks.on_end(span, ctx.request, response)  # captured headers, response_hook
        finally:
            span.end()
            detach(server_span)
    except Exception as exc:
        report_internal_error("tracing_end", exc)


def redact_path(span: Any, path: str) -> None:
    """Replace the span's ``url.path`` with the redacted one (URL parameters
    named secret, known once the URL is resolved): the span is exported only
    when it ends, so the raw path never leaves. Never raises."""
    try:
        span.set_attribute("url.path", capped(path, URL_PATH_LIMIT))
    except Exception as exc:
        report_internal_error("tracing_path", exc)


def detach(server_span: ServerSpan) -> None:
    """Detach the span's context (once) and leave the span open: the middleware
    calls this when it returns a streaming response, whose end calls :func:`end`."""
    token, server_span.token = server_span.token, None
    if token is not None:
        from opentelemetry import context as otel_context

        otel_context.detach(token)  # type: ignore[arg-type]


def record_exception(span: Any, exc: BaseException) -> None:
    """An ``exception`` event with scrubbed message and stack, and ``error.type``."""
    try:
        from opentelemetry.trace import Status, StatusCode

        try:
            message = str(exc)
        except Exception:
            message = "<unprintable exception>"
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        exc_type = type(exc).__qualname__
        # The request's own secrets too (a session key quoted in the message),
        # as in the log line and the Sentry event of the same exception.
        ctx = current.get()
        request = ctx.request if ctx is not None else None
        secrets = ctx.secrets if ctx is not None else ()
        span.add_event(
            "exception",
            {
                "exception.type": exc_type,
                "exception.message": redact_request_secrets(scrub_text(message), request, secrets)[:4096],
                "exception.stacktrace": redact_request_secrets(scrub_text(stack), request, secrets)[:32768],
            },
        )
        span.set_attribute("error.type", exc_type)
        span.set_status(Status(StatusCode.ERROR, exc_type))
    except Exception as error:
        report_internal_error("tracing_exception", error)
