"""Google Cloud Logging structured logs, as its agents read them from stdout.

On Cloud Run, GKE and App Engine the logging agent turns each JSON line into
a LogEntry and lifts the documented special fields out of the payload:
``severity`` (without it every line is ``DEFAULT``/INFO), ``time``,
``httpRequest``, ``logging.googleapis.com/trace`` (``projects/P/traces/T``),
``.../spanId``, ``.../trace_sampled``, ``.../labels`` and
``.../sourceLocation``. Everything else stays in ``jsonPayload``. A stack
trace in ``stack_trace`` is what Error Reporting picks up. What a request or
task run cost (``_cost.py``): the response's size is ``httpRequest.responseSize``
(an int64, so a string in JSON, as ``latency`` is a Duration string), the rest
``jsonPayload.lantern``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

from django_lantern._release import identity
from django_lantern.conf import get_settings
from django_lantern.context import current
from django_lantern.logging.schemas._base import (
    SchemaFormatter,
    add_extras,
    add_lantern,
    cost_fields,
    keep_collisions,
    known,
    user_agent,
)
from django_lantern.scrubbing._cut import truncate

SEVERITIES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"
SAMPLED_KEY = "logging.googleapis.com/trace_sampled"
LABELS_KEY = "logging.googleapis.com/labels"
SOURCE_KEY = "logging.googleapis.com/sourceLocation"
# Variables that name the project, newest first (GCP_PROJECT and GCLOUD_PROJECT
# are set by older runtimes).
PROJECT_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT")


def latency(duration_ms: float) -> str:
    """A protobuf ``Duration`` in JSON: ``"0.123s"``."""
    text = f"{max(duration_ms, 0.0) / 1000:.6f}".rstrip("0").rstrip(".")
    return f"{text}s"


def trace_sampled(trace_id: Any) -> bool | None:
    """The sampled flag tracing recorded in the current context, if it is this trace's."""
    ctx = current.get()
    if ctx is None or ctx.trace_id != trace_id:
        return None
    return ctx.trace_sampled


def _project_from_settings() -> str | None:
    """``LANTERN["GCP_PROJECT"]``, as validated by ``conf`` (one reader of settings)."""
    return get_settings().gcp_project or None


class GcpFormatter(SchemaFormatter):
    """One Cloud Logging structured-log JSON object per line (``LANTERN_LOG_FORMAT=gcp``).

    The project of the trace field is ``project``, else ``GOOGLE_CLOUD_PROJECT``,
    else ``LANTERN["GCP_PROJECT"]``; without one the trace field is left out
    (a bare trace id is not linked to the trace in Cloud Trace).
    """

    name: ClassVar[str] = "gcp"
    core_names: ClassVar[tuple[str, str, str, str]] = ("time", "severity", "logger", "message")

    def __init__(self, *args: Any, project: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = project or next((os.environ[v] for v in PROJECT_VARIABLES if os.environ.get(v)), None)
        self._project: str | None = truncate(chosen.strip(), 128) if chosen else None
        self._project_resolved = self._project is not None

    @property
    def project(self) -> str | None:
        if not self._project_resolved:
            # Django settings are ready only after logging is configured: look once they are.
            try:
                from django.apps import apps

                if apps.ready:
                    found = _project_from_settings()
                    self._project = truncate(found, 128) if found else None
                    self._project_resolved = True
            except Exception:
                self._project_resolved = True
        return self._project

    def level_name(self, levelno: int, default: str) -> str:
        return SEVERITIES.get(levelno, default.upper())

    def render(self, fields: dict[str, Any], extras: dict[str, Any], record: logging.LogRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": SEVERITIES.get(record.levelno, "DEFAULT"),
            "message": fields["message"],
            "time": fields["ts"],
            "logger": fields["logger"],
        }
        trace_id = fields.get("trace_id")
        if known(trace_id):
            project = self.project
            if project:
                out[TRACE_KEY] = f"projects/{project}/traces/{trace_id}"
            if known(fields.get("span_id")):
                out[SPAN_KEY] = fields["span_id"]
            sampled = trace_sampled(trace_id)
            if sampled is not None:
                out[SAMPLED_KEY] = sampled
        if known(fields.get("request_id")):
            out[LABELS_KEY] = {"request_id": fields["request_id"]}
        release = identity().release
        if release:  # Error Reporting groups and filters by it
            out["serviceContext"] = {"version": release}
        out[SOURCE_KEY] = {
            "file": truncate(str(record.pathname), 512),
            "line": record.lineno,  # a number, as google-cloud-logging's own handler writes it
        }
        if record.funcName:
            out[SOURCE_KEY]["function"] = truncate(str(record.funcName), 256)
        access = record.__dict__.get("lantern_access") is True
        cost, response_bytes = cost_fields(fields)
        if access:
            out["httpRequest"] = self._http_request(fields)
            if response_bytes is not None:
                out["httpRequest"]["responseSize"] = str(response_bytes)
        for key in ("user_id", "route") if access else ("user_id", "method", "path", "route"):
            if known(fields.get(key)):
                out[key] = fields[key]
        for key in ("exc_type", "exc_message"):
            if key in fields:
                out[key] = fields[key]
        stack = fields.get("stack") or fields.get("stack_info")
        if stack:
            out["stack_trace"] = stack
        collisions = add_extras(out, extras)
        return add_lantern(keep_collisions(self.renamed(out), collisions), cost)

    def _http_request(self, fields: dict[str, Any]) -> dict[str, Any]:
        http: dict[str, Any] = {"requestMethod": fields.get("method"), "requestUrl": fields.get("path")}
        if isinstance(fields.get("status"), int):
            http["status"] = fields["status"]
        duration_ms = fields.get("duration_ms")
        if isinstance(duration_ms, (int, float)):
            http["latency"] = latency(duration_ms)
        if known(fields.get("client_ip")):
            http["remoteIp"] = fields["client_ip"]
        agent = user_agent(self)
        if agent:
            http["userAgent"] = agent
        return http
