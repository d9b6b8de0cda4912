"""Datadog's reserved and standard attributes, and its tracer's correlation fields.

Datadog's pipelines read ``status`` as the level, ``message``, ``timestamp``,
and join a log to its trace on ``dd.trace_id`` / ``dd.span_id``; the standard
attributes (``http.*``, ``network.client.ip``, ``usr.id``, ``duration`` in
nanoseconds, ``error.*``, ``logger.*``) power the default facets. Nested
objects are attribute paths (``{"dd": {"trace_id": ...}}`` is
``dd.trace_id``). What a request or task run cost (``_cost.py``): the
response's size is ``network.bytes_written`` (the standard attribute for bytes
sent to the client), the rest, which has no standard attribute, ``lantern.*``.

Trace ids: ``ddtrace`` writes ``dd.trace_id`` as a decimal string. For a
128-bit id (every OpenTelemetry id) the form depends on its version and
``DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED``: the lower 64 bits in decimal
(ddtrace 1.x and 2.x by default, and Datadog's instructions for
OpenTelemetry logs), or the 32 hex digits (ddtrace 3+, or that variable
true). We write the lower 64 bits in decimal, which every Datadog backend
joins, unless that variable is true.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

from django_lantern._release import identity
from django_lantern.logging.schemas._base import (
    SchemaFormatter,
    add_extras,
    add_lantern,
    cost_fields,
    env,
    keep_collisions,
    known,
    nest,
    user_agent,
)

LOWER_64_BITS = (1 << 64) - 1


def dd_trace_id(trace_id: Any, full_128: bool = False) -> str:
    """The OpenTelemetry hex trace id as ``ddtrace`` writes ``dd.trace_id``; "0" when unknown."""
    try:
        value = int(trace_id, 16)
    except (TypeError, ValueError):
        return "0"
    if full_128 and value > LOWER_64_BITS:
        return f"{value:032x}"
    return str(value & LOWER_64_BITS)


def dd_span_id(span_id: Any) -> str:
    """The hex span id in decimal, as ``ddtrace`` writes ``dd.span_id``; "0" when unknown."""
    try:
        return str(int(span_id, 16))
    except (TypeError, ValueError):
        return "0"


class DatadogFormatter(SchemaFormatter):
    """One Datadog JSON object per line (``LANTERN_LOG_FORMAT=datadog``).

    ``dd.service`` and ``dd.env`` come from ``DD_SERVICE`` and ``DD_ENV``;
    ``dd.version`` is the release ``/statusz`` shows, which is ``DD_VERSION``
    unless a setting, ``SENTRY_RELEASE`` or ... names it first (``docs/status.md``).
    Each is an empty string when unknown, as ``ddtrace`` writes them.
    """

    name: ClassVar[str] = "datadog"
    core_names: ClassVar[tuple[str, str, str, str]] = ("timestamp", "status", "logger.name", "message")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = env("DD_SERVICE")
        self.env = env("DD_ENV")
        self.full_128 = os.environ.get("DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED", "").strip().lower() in {
            "1",
            "true",
        }

    def render(self, fields: dict[str, Any], extras: dict[str, Any], record: logging.LogRecord) -> dict[str, Any]:
        trace_id, span_id = fields.get("trace_id"), fields.get("span_id")
        flat: dict[str, Any] = {
            "timestamp": fields["ts"],
            "status": fields["level"],
            "message": fields["message"],
            "logger.name": fields["logger"],
            "logger.thread_name": record.threadName,
            "dd.trace_id": dd_trace_id(trace_id, self.full_128) if known(trace_id) else "0",
            "dd.span_id": dd_span_id(span_id) if known(span_id) else "0",
            "dd.service": self.service,
            "dd.env": self.env,
            "dd.version": identity().release or "",
        }
        for source, target in (
            ("request_id", "http.request_id"),
            ("method", "http.method"),
            ("path", "http.url_details.path"),
            ("route", "http.route"),
            ("status", "http.status_code"),
            ("client_ip", "network.client.ip"),
            ("exc_type", "error.kind"),
            ("exc_message", "error.message"),
            ("stack", "error.stack"),
        ):
            value = fields.get(source)
            if known(value):
                flat[target] = value
        if record.__dict__.get("lantern_access") is True:
            agent = user_agent(self)
            if agent:
                flat["http.useragent"] = agent
        user_id = fields.get("user_id")
        if known(user_id):
            flat["usr.id"] = str(user_id)
        duration_ms = fields.get("duration_ms")
        if isinstance(duration_ms, (int, float)):
            flat["duration"] = round(duration_ms * 1_000_000)  # nanoseconds
        if "error.stack" not in flat and fields.get("stack_info"):
            flat["error.stack"] = fields["stack_info"]
        cost, response_bytes = cost_fields(fields)
        if response_bytes is not None:
            flat["network.bytes_written"] = response_bytes
        collisions = add_extras(flat, extras)
        return add_lantern(keep_collisions(nest(self.renamed(flat)), collisions), cost)
