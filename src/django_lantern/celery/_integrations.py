"""Celery runs and the optional integrations: OpenTelemetry spans, Sentry scopes.

- Publishing with tracing on (``django_lantern.tracing`` enabled): the current
  trace context goes into the message as ``traceparent`` (and ``tracestate``).
- Running: a CONSUMER span per run, *linked* to the publisher's span (a task
  may run long after the request ended, in a trace of its own); its ids go on
  the run's log lines as ``trace_id``/``span_id``. A ``traceparent`` that fails
  the strict W3C check is ignored.
- Sentry (when a client is active): the run gets its own isolation scope
  tagged with ``request_id``, ``task_id``, ``task_name`` and ``root_task_id``,
  so an event from the task says which request queued it.

Each is a no-op when its package is missing or it is turned off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_lantern import tracing
from django_lantern.context import current
from django_lantern.http._trace_context import parse_traceparent, tracestate_ok

if TYPE_CHECKING:
    from django_lantern.celery import TaskRun
    from django_lantern.celery._headers import Incoming


def inject(headers: dict[str, Any]) -> None:
    """Add the current trace context to a task message's headers (tracing on only)."""
    if tracing.state.tracer is None:
        return
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    parent = carrier.get("traceparent")
    if parent and parse_traceparent(parent) is not None:
        headers["traceparent"] = parent
        state = carrier.get("tracestate")
        if state and tracestate_ok(state):
            headers["tracestate"] = state


def _publisher_link(message: Incoming) -> list[Any]:
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    parsed = parse_traceparent(message.traceparent) if message.traceparent is not None else None
    if parsed is None:
        return []
    trace_id, span_id, flags = parsed
    return [Link(SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 0x01)))]


def _start_span(task: Any, message: Incoming, run: TaskRun) -> None:
    tracer = tracing.state.tracer
    if tracer is None:
        return
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    name = str(task.name)
    span = tracer.start_span(
        f"{name} process",
        kind=SpanKind.CONSUMER,
        links=_publisher_link(message),
        attributes={
            "messaging.system": "celery",
            "messaging.operation": "process",
            "messaging.message.id": message.task_id,
            "celery.task_name": name,
        },
    )
    token = otel_context.attach(trace.set_span_in_context(span))
    span_context = span.get_span_context()
    ctx = current.get()
    if ctx is not None and span_context.is_valid:
        ctx.trace_id = format(span_context.trace_id, "032x")
        ctx.span_id = format(span_context.span_id, "016x")
        ctx.trace_sampled = bool(span_context.trace_flags.sampled)

    def finish(run: TaskRun) -> None:
        try:
            if run.error_type is not None:
                span.set_status(Status(StatusCode.ERROR, run.error_type))
            span.end()
        finally:
            otel_context.detach(token)

    run.finish.append(finish)


def _sentry_scope(task: Any, run: TaskRun) -> None:
    try:
        import sentry_sdk
    except ImportError:
        return
    if not sentry_sdk.get_client().is_active():
        return
    ctx = current.get()
    scope_manager = sentry_sdk.isolation_scope()
    scope = scope_manager.__enter__()
    if ctx is not None:
        scope.set_tag("request_id", ctx.request_id)
        for name in ("task_id", "task_name", "root_task_id"):
            value = ctx.fields.get(name)
            if value is not None:
                scope.set_tag(name, value)
    run.finish.append(lambda _run: scope_manager.__exit__(None, None, None))


def start(task: Any, run: TaskRun, message: Incoming) -> None:
    """Start the run's span and Sentry scope; ``run.finish`` ends them."""
    _start_span(task, message, run)
    _sentry_scope(task, run)
