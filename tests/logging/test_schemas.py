"""The vendor schemas (ecs, gcp, datadog) against their vendors' own definitions.

- ECS: Elastic's ``ecs-logging`` library renders the same record; the ECS
  logging spec's required fields and their order (``spec/spec.json`` of
  elastic/ecs-logging) are checked as data below.
- Cloud Logging: the special fields as documented, and as the
  ``google-cloud-logging`` ``StructuredLogHandler`` lists them
  (``GCP_STRUCTURED_LOGGING_FIELDS`` in ``handlers/structured_log.py``; the
  library itself pulls in gRPC and is not a test dependency).
- Datadog: the reserved and standard attributes as documented, and the
  correlation fields as ``ddtrace`` writes them (``dd.trace_id`` decimal, the
  lower 64 bits of a 128-bit id unless ``DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import RequestFactory

from django_lantern.context import RequestContext, current
from django_lantern.logging.schemas import DatadogFormatter, EcsFormatter, GcpFormatter

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"

# elastic/ecs-logging spec/spec.json: required fields; "index" fixes the order.
ECS_SPEC_REQUIRED = {"@timestamp": 0, "log.level": 1, "message": 2, "ecs.version": None}
# google-cloud-logging, handlers/structured_log.py: the fields the agent lifts out of the payload.
GCP_SPECIAL_FIELDS = frozenset(
    {
        "severity",
        "httpRequest",
        "time",
        "timestamp",
        "timestampSeconds",
        "timestampNanos",
        "logging.googleapis.com/insertId",
        "logging.googleapis.com/labels",
        "logging.googleapis.com/operation",
        "logging.googleapis.com/sourceLocation",
        "logging.googleapis.com/spanId",
        "logging.googleapis.com/trace",
        "logging.googleapis.com/trace_sampled",
    }
)
# Cloud Logging's LogEntry.HttpRequest fields (the ones a web request can fill).
GCP_HTTP_REQUEST_FIELDS = frozenset(
    {"requestMethod", "requestUrl", "status", "latency", "remoteIp", "userAgent", "protocol", "referer"}
)
GCP_SEVERITIES = {"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"}


def flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (how Elastic and Datadog read nested keys)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            out.update(flatten(item, name + "."))
        else:
            out[name] = item
    return out


def strict_loads(line: str) -> dict[str, Any]:
    """One strict JSON object: no NaN/Infinity, no raw newline, valid UTF-8."""
    assert "\n" not in line and "\r" not in line
    line.encode("utf-8")  # raises on a lone surrogate written raw

    def no_constants(name: str) -> Any:
        raise AssertionError(f"non-JSON constant {name}")

    parsed = json.loads(line, parse_constant=no_constants)
    assert isinstance(parsed, dict)
    return parsed


def make_record(
    msg: str = "order %s placed",
    args: Any = ("o-1",),
    level: int = logging.INFO,
    exc: BaseException | None = None,
    **extra: Any,
) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except BaseException:
            exc_info = sys.exc_info()
    record = logging.LogRecord("shop.orders", level, __file__, 42, msg, args, exc_info, func="place_order")
    record.__dict__.update(extra)
    return record


@pytest.fixture
def request_context() -> Iterator[RequestContext]:
    request = RequestFactory().get("/orgs/acme/", HTTP_USER_AGENT="Mozilla/5.0 (X11) test-agent")
    ctx = RequestContext("rid-abc", "GET", "/orgs/acme/", request)
    ctx.trace_id, ctx.span_id, ctx.user_id = TRACE_ID, SPAN_ID, 7
    token = current.set(ctx)
    yield ctx
    current.reset(token)


def access_record() -> logging.LogRecord:
    return make_record(
        "method=%s path=%s status=%s duration_ms=%.2f user_id=%s",
        ("GET", "/orgs/acme/", 201, 123.4, 7),
        status=201,
        duration_ms=123.4,
        client_ip="203.0.113.9",
        lantern_access=True,
    )


# -- ECS ------------------------------------------------------------------------


def test_ecs_matches_ecs_logging_field_for_field() -> None:
    """Every field ecs-logging's StdlibFormatter writes for a record, ours writes with the same value."""
    ecs_logging = pytest.importorskip("ecs_logging")
    record = make_record(level=logging.ERROR, exc=ValueError("bad order"), order_id=5, **{"labels.team": "shop"})
    theirs_line = ecs_logging.StdlibFormatter().format(record)  # first: ours adds context attributes
    ours_line = EcsFormatter().format(record)
    theirs, ours = json.loads(theirs_line), strict_loads(ours_line)
    assert list(ours)[:3] == list(theirs)[:3] == ["@timestamp", "log.level", "message"]
    flat_theirs, flat_ours = flatten(theirs), flatten(ours)
    # log.original repeats the message: left out on purpose (half the line for nothing).
    flat_theirs.pop("log.original")
    stack = flat_theirs.pop("error.stack_trace")
    assert stack in flat_ours["error.stack_trace"]  # theirs: the frames; ours: the whole traceback
    for key, value in flat_theirs.items():
        assert flat_ours.get(key) == value, key
    # After the fixed head, the rest is nested and sorted as ecs-logging writes it.
    rest = [key for key in ours if key not in ECS_SPEC_REQUIRED]
    assert rest == sorted(rest)
    assert rest == [key for key in theirs if key not in ECS_SPEC_REQUIRED]


def test_ecs_spec_required_fields_and_order() -> None:
    """The spec's required fields are present, indexed ones in order, log.level dotted at the top level."""
    line = strict_loads(EcsFormatter().format(make_record()))
    keys = list(line)
    for field, index in ECS_SPEC_REQUIRED.items():
        assert field in line, field
        if index is not None:
            assert keys.index(field) == index
    assert keys[3] == "ecs.version" and line["ecs.version"] == "1.6.0"
    assert "log" in line and "level" not in line["log"]  # nesting_allowed: false


def test_ecs_access_record_fields(request_context: RequestContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """An access line has the ECS http, url, event, user, client, trace and service fields."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    flat = flatten(strict_loads(EcsFormatter().format(access_record())))
    assert flat["http.request.id"] == "rid-abc"
    assert flat["http.request.method"] == "GET"
    assert flat["url.path"] == "/orgs/acme/"
    assert flat["http.response.status_code"] == 201
    assert flat["event.duration"] == 123_400_000  # nanoseconds
    assert flat["user.id"] == "7"
    assert flat["client.ip"] == "203.0.113.9"
    assert flat["trace.id"] == TRACE_ID and flat["span.id"] == SPAN_ID
    assert flat["service.name"] == "shop" and flat["event.dataset"] == "shop.log"
    assert flat["log.logger"] == "shop.orders"
    assert not {"request_id", "status", "duration_ms", "path", "method"} & set(flat)


# -- Cloud Logging --------------------------------------------------------------


def test_gcp_special_fields(request_context: RequestContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """severity, time, trace (with the project), spanId, labels and sourceLocation are the documented names."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-prod")
    line = strict_loads(GcpFormatter().format(make_record(level=logging.WARNING)))
    assert list(line)[:3] == ["severity", "message", "time"]
    assert line["severity"] == "WARNING" and line["message"] == "order o-1 placed"
    assert line["logging.googleapis.com/trace"] == f"projects/acme-prod/traces/{TRACE_ID}"
    assert line["logging.googleapis.com/spanId"] == SPAN_ID
    assert line["logging.googleapis.com/labels"] == {"request_id": "rid-abc"}
    assert line["logging.googleapis.com/sourceLocation"] == {"file": __file__, "line": 42, "function": "place_order"}
    special = {key for key in line if key.startswith("logging.googleapis.com/")} | {"severity", "time", "httpRequest"}
    assert special <= GCP_SPECIAL_FIELDS
    assert "request_id" not in line and "trace_id" not in line  # one name per field


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        (logging.DEBUG, "DEBUG"),
        (logging.INFO, "INFO"),
        (logging.WARNING, "WARNING"),
        (logging.ERROR, "ERROR"),
        (logging.CRITICAL, "CRITICAL"),
        (25, "DEFAULT"),
    ],
)
def test_gcp_severity(level: int, severity: str) -> None:
    """Every level maps to a LogSeverity name; an unknown custom level is DEFAULT."""
    line = strict_loads(GcpFormatter().format(make_record(level=level)))
    assert line["severity"] == severity and severity in GCP_SEVERITIES


def test_gcp_access_record_http_request(request_context: RequestContext) -> None:
    """The access line carries httpRequest with the documented fields; latency is a Duration string."""
    line = strict_loads(GcpFormatter(project="p").format(access_record()))
    http = line["httpRequest"]
    assert set(http) <= GCP_HTTP_REQUEST_FIELDS
    assert http == {
        "requestMethod": "GET",
        "requestUrl": "/orgs/acme/",
        "status": 201,
        "latency": "0.1234s",
        "remoteIp": "203.0.113.9",
        "userAgent": "Mozilla/5.0 (X11) test-agent",
    }
    assert "status" not in line and "duration_ms" not in line and "method" not in line


def test_gcp_user_agent_is_capped_and_scrubbed(rf: RequestFactory) -> None:
    """A hostile User-Agent is capped with the marker and scrubbed."""
    request = rf.get("/", HTTP_USER_AGENT="agent token=sekrit-value " + "A" * 5000)
    token = current.set(RequestContext("rid", "GET", "/", request))
    try:
        agent = strict_loads(GcpFormatter().format(access_record()))["httpRequest"]["userAgent"]
    finally:
        current.reset(token)
    assert "sekrit-value" not in agent
    assert agent.endswith("chars cut]") and len(agent) < 300


def test_gcp_stack_trace_for_error_reporting() -> None:
    """An exception's Python traceback is in stack_trace, where Error Reporting looks."""
    line = strict_loads(GcpFormatter().format(make_record(level=logging.ERROR, exc=KeyError("k"))))
    assert line["stack_trace"].startswith("Traceback (most recent call last):")
    assert line["stack_trace"].rstrip().endswith("KeyError: 'k'")
    assert line["exc_type"] == "KeyError"


def test_gcp_trace_needs_a_project(request_context: RequestContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a project the trace field is left out (a bare id links to nothing); the setting supplies one."""
    for name in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    assert "logging.googleapis.com/trace" not in strict_loads(GcpFormatter().format(make_record()))
    from django.test import override_settings

    with override_settings(LANTERN={"GCP_PROJECT": "from-settings"}):
        line = strict_loads(GcpFormatter().format(make_record()))
    assert line["logging.googleapis.com/trace"] == f"projects/from-settings/traces/{TRACE_ID}"


@pytest.mark.parametrize("sampled", [True, False])
def test_gcp_trace_sampled_from_the_server_span(sampled: bool) -> None:
    """trace_sampled is the sampled flag of the server span tracing attached to the request's context."""
    from django.test import RequestFactory
    from opentelemetry import context as otel_context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    from django_lantern import tracing

    tracer = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF).get_tracer("t")
    span = tracer.start_span("s")
    span_context = span.get_span_context()
    server_span = tracing.ServerSpan(span, None, "GET")
    ctx = RequestContext("rid", "GET", "/", None)
    ctx.trace_id = format(span_context.trace_id, "032x")
    ctx.span_id = format(span_context.span_id, "016x")
    tracing.attach(server_span, RequestFactory().get("/"), ctx)
    token = current.set(ctx)
    try:
        line = strict_loads(GcpFormatter(project="p").format(make_record()))
    finally:
        current.reset(token)
        if server_span.token is not None:
            otel_context.detach(server_span.token)
        span.end()
    assert line["logging.googleapis.com/trace_sampled"] is sampled


def test_gcp_trace_sampled_is_left_out_for_another_trace(request_context: RequestContext) -> None:
    """A record of another trace than the context's says nothing about sampling."""
    request_context.trace_id = TRACE_ID
    request_context.trace_sampled = True
    record = make_record()
    record.trace_id = "f" * 32
    line = strict_loads(GcpFormatter(project="p").format(record))
    assert "logging.googleapis.com/trace_sampled" not in line


# -- Datadog --------------------------------------------------------------------


def test_datadog_reserved_and_standard_attributes(
    request_context: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """status, message, timestamp, dd.*, http.*, network.client.ip, usr.id and duration are Datadog's names."""
    monkeypatch.setenv("DD_SERVICE", "shop")
    monkeypatch.setenv("DD_ENV", "prod")
    monkeypatch.setenv("DD_VERSION", "1.2.3")
    line = strict_loads(DatadogFormatter().format(access_record()))
    assert list(line)[:3] == ["timestamp", "status", "message"]
    flat = flatten(line)
    assert flat["status"] == "info"
    assert flat["logger.name"] == "shop.orders"
    assert flat["dd.service"] == "shop" and flat["dd.env"] == "prod" and flat["dd.version"] == "1.2.3"
    assert flat["http.method"] == "GET"
    assert flat["http.status_code"] == 201
    assert flat["http.url_details.path"] == "/orgs/acme/"
    assert flat["http.request_id"] == "rid-abc"
    assert flat["http.useragent"] == "Mozilla/5.0 (X11) test-agent"
    assert flat["network.client.ip"] == "203.0.113.9"
    assert flat["usr.id"] == "7"
    assert flat["duration"] == 123_400_000  # nanoseconds


def test_datadog_correlation_ids_as_ddtrace_writes_them(request_context: RequestContext) -> None:
    """dd.trace_id is the lower 64 bits in decimal (ddtrace's default for 128-bit ids); dd.span_id is decimal."""
    flat = flatten(strict_loads(DatadogFormatter().format(make_record())))
    assert flat["dd.trace_id"] == str(0xA3CE929D0E0E4736) == "11803532876627986230"
    assert flat["dd.span_id"] == str(0x00F067AA0BA902B7) == "67667974448284343"


def test_datadog_full_128_bit_ids_when_ddtrace_is_told_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """With DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED=true a 128-bit id is its 32 hex digits (ddtrace's vector)."""
    monkeypatch.setenv("DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED", "true")
    ctx = RequestContext("rid", "GET", "/", None)
    ctx.trace_id = "192f3581c8461c79abf2684ee31ce27d"
    token = current.set(ctx)
    try:
        flat = flatten(strict_loads(DatadogFormatter().format(make_record())))
    finally:
        current.reset(token)
    assert flat["dd.trace_id"] == "192f3581c8461c79abf2684ee31ce27d"


def test_datadog_outside_a_trace_writes_zero_like_ddtrace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a trace dd.trace_id and dd.span_id are "0" and unset DD_* values are "", as ddtrace writes them."""
    for name in ("DD_SERVICE", "DD_ENV", "DD_VERSION"):
        monkeypatch.delenv(name, raising=False)
    flat = flatten(strict_loads(DatadogFormatter().format(make_record())))
    assert (flat["dd.trace_id"], flat["dd.span_id"]) == ("0", "0")
    assert (flat["dd.service"], flat["dd.env"], flat["dd.version"]) == ("", "", "")


def test_datadog_error_attributes() -> None:
    """An exception becomes error.kind, error.message and error.stack."""
    flat = flatten(strict_loads(DatadogFormatter().format(make_record(level=logging.ERROR, exc=OSError("disk")))))
    assert flat["error.kind"] == "OSError" and flat["error.message"] == "disk"
    assert flat["error.stack"].startswith("Traceback") and flat["status"] == "error"


# Datadog's log attributes: reserved (docs "Reserved attributes") and standard ("Default standard
# attribute list"), plus the tracer's correlation attributes (ddtrace LOG_ATTR_*).
DATADOG_RESERVED = frozenset({"host", "service", "status", "message", "timestamp", "trace_id", "source"})
DATADOG_STANDARD = frozenset(
    {
        "logger.name",
        "logger.thread_name",
        "http.method",
        "http.status_code",
        "http.request_id",
        "http.useragent",
        "http.url_details.path",
        "network.client.ip",
        "usr.id",
        "duration",
        "error.kind",
        "error.message",
        "error.stack",
    }
)
DDTRACE_CORRELATION = frozenset({"dd.trace_id", "dd.span_id", "dd.service", "dd.env", "dd.version"})
# Not a log standard attribute: the APM span tag of the same meaning, so facets line up with traces.
DATADOG_SPAN_TAGS = frozenset({"http.route"})


def test_datadog_writes_only_datadog_names(request_context: RequestContext) -> None:
    """Without extras, every attribute of an access line with an exception is a Datadog name."""
    record = access_record()
    try:
        raise RuntimeError("x")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    flat = flatten(strict_loads(DatadogFormatter().format(record)))
    allowed = DATADOG_RESERVED | DATADOG_STANDARD | DDTRACE_CORRELATION | DATADOG_SPAN_TAGS
    assert set(flat) <= allowed, set(flat) - allowed
    assert set(flat) >= DDTRACE_CORRELATION
