"""Elastic Common Schema, as Elastic's own ``ecs-logging`` formatters write it.

The ECS logging spec requires ``@timestamp``, ``log.level`` and ``message``
first, in that order, ``log.level`` as a dotted top-level key, and
``ecs.version``. ``ecs-logging`` (Python) then writes every other field as
nested objects with sorted keys; so do we, with ``ecs.version`` dotted and
fourth, as Elastic's Java loggers write it. Filebeat and Elastic Agent read
both forms.

The request id has no ECS field of its own: it is ``http.request.id``
("a unique identifier for each HTTP request", ECS 1.10+). The matched route
has none either: it is ``labels.route``. What a request or task run cost
(``_cost.py``) is ``http.response.body.bytes`` for the response's size, and
the rest, which ECS has no fields for, under ``lantern`` (``lantern.db_queries``).
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
    keep_collisions,
    known,
    nest,
    sorted_deep,
)
from django_lantern.scrubbing._cut import truncate

# The version ecs-logging-python declares: the fields below are in every ECS
# release since (http.request.id since 1.10; ECS only adds fields).
ECS_VERSION = "1.6.0"
HEAD = ("@timestamp", "log.level", "message", "ecs.version")


class EcsFormatter(SchemaFormatter):
    """One ECS JSON object per line (``LANTERN_LOG_FORMAT=ecs``).

    ``service_name`` defaults to ``OTEL_SERVICE_NAME``, then
    ``ELASTIC_APM_SERVICE_NAME``; when set, ``event.dataset`` is
    ``<service>.log`` as the ECS logging spec asks. ``service.version`` is the
    release ``/statusz`` shows (``docs/status.md``), on every line.
    """

    name: ClassVar[str] = "ecs"
    core_names: ClassVar[tuple[str, str, str, str]] = ("@timestamp", "log.level", "log.logger", "message")

    def __init__(self, *args: Any, service_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service = service_name or os.environ.get("OTEL_SERVICE_NAME") or os.environ.get("ELASTIC_APM_SERVICE_NAME")
        self.service_name = truncate(service.strip(), 256) if service else ""

    def render(self, fields: dict[str, Any], extras: dict[str, Any], record: logging.LogRecord) -> dict[str, Any]:
        flat: dict[str, Any] = {
            "@timestamp": fields["ts"],
            "log.level": fields["level"],
            "message": fields["message"],
            "ecs.version": ECS_VERSION,
            "log.logger": fields["logger"],
            "log.origin.file.name": record.filename,
            "log.origin.file.line": record.lineno,
            "log.origin.function": record.funcName,
            "process.pid": record.process,
            "process.name": record.processName,
            "process.thread.id": record.thread,
            "process.thread.name": record.threadName,
        }
        if self.service_name:
            flat["service.name"] = self.service_name
            flat["event.dataset"] = f"{self.service_name}.log"
        flat["service.version"] = identity().release  # left out when None, as every empty field
        for source, target in (
            ("trace_id", "trace.id"),
            ("span_id", "span.id"),
            ("request_id", "http.request.id"),
            ("method", "http.request.method"),
            ("path", "url.path"),
            ("route", "labels.route"),
            ("status", "http.response.status_code"),
            ("client_ip", "client.ip"),
            ("exc_type", "error.type"),
            ("exc_message", "error.message"),
            ("stack", "error.stack_trace"),
        ):
            value = fields.get(source)
            if known(value):
                flat[target] = value
        user_id = fields.get("user_id")
        if known(user_id):
            flat["user.id"] = str(user_id)  # a keyword in ECS
        duration_ms = fields.get("duration_ms")
        if isinstance(duration_ms, (int, float)):
            flat["event.duration"] = round(duration_ms * 1_000_000)  # nanoseconds
        if "error.stack_trace" not in flat and fields.get("stack_info"):
            flat["error.stack_trace"] = fields["stack_info"]
        cost, flat["http.response.body.bytes"] = cost_fields(fields)
        collisions = add_extras(flat, extras)
        # As ecs-logging does: a field without a value is left out, not null.
        flat = self.renamed({key: value for key, value in flat.items() if value is not None})
        # Spec order: the three indexed fields, ecs.version, then the rest nested and sorted.
        line: dict[str, Any] = {key: flat.pop(key) for key in HEAD if key in flat}
        line.update(sorted_deep(add_lantern(keep_collisions(nest(flat), collisions), cost)))
        return line

    def fallback_payload(self, record: logging.LogRecord, exc: BaseException) -> dict[str, Any]:
        payload = super().fallback_payload(record, exc)
        payload["ecs.version"] = ECS_VERSION
        return payload
