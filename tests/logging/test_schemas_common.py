"""What every JSON schema keeps from the default one: scrubbing, caps, strict JSON, fallback; and its config."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from django_lantern.context import RequestContext, current
from django_lantern.logging import JsonFormatter, _base, build_logging_config
from django_lantern.logging import formatters as formatters_module
from django_lantern.logging.schemas import (
    FORMATTERS,
    JSON_FORMATS,
    DatadogFormatter,
    EcsFormatter,
    GcpFormatter,
    SchemaFormatter,
    formatter_from_env,
)
from django_lantern.logging.schemas import _base as schema_base
from tests.logging.test_schemas import SPAN_ID, TRACE_ID, flatten, make_record, strict_loads

SECRET = "hunter2-s3cr3t"
FIELD_LIMIT = 200


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def formatters() -> dict[str, JsonFormatter]:
    return {
        "json": JsonFormatter(field_limit=FIELD_LIMIT),
        "ecs": EcsFormatter(field_limit=FIELD_LIMIT),
        "gcp": GcpFormatter(field_limit=FIELD_LIMIT, project="p"),
        "datadog": DatadogFormatter(field_limit=FIELD_LIMIT),
    }


@pytest.fixture
def hostile_context() -> Iterator[None]:
    request = RequestFactory().get("/", HTTP_USER_AGENT=f'evil\r\n{{"forged": 1}} password={SECRET}')
    path = f"/reset/token={SECRET}/\r\n\x1b[31m" + "p" * 5000
    ctx = RequestContext("rid-hostile", "GET", path, request)
    ctx.trace_id, ctx.span_id, ctx.user_id = TRACE_ID, SPAN_ID, 42
    token = current.set(ctx)
    yield
    current.reset(token)


def everything_record() -> logging.LogRecord:
    """Request context, trace, exception, extras of every type and hostile values, on one record."""
    record = make_record(
        'line one\r\n{"level": "forged"} password=%s \x1b[2J',
        (SECRET,),
        logging.ERROR,
        exc=ValueError(f"api_key={SECRET}\nsecond line"),
        lantern_access=True,
        status=500,
        duration_ms=12.5,
        client_ip="203.0.113.9",
        amount=math.nan,
        ratio=math.inf,
        big=2**80,
        nested={"password": SECRET, "deep": [1, 2, {"token": SECRET}]},
        huge="x" * 10_000,
        obj=Unprintable(),
        surrogate="bad \ud800 text",
        trace={"caller": "collides with trace.id"},
        dd="collides with dd.*",
        severity="collides with severity",
        request=object(),  # Django's request object: never stringified
    )
    record.args = ("GET", "/reset/", 500, 12.5, 42)
    record.msg = "method=%s path=%s status=%s duration_ms=%.2f user_id=%s"
    record.__dict__["secret_message"] = f"password={SECRET}"
    return record


def all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)


@pytest.mark.parametrize("name", ["json", "ecs", "gcp", "datadog"])
def test_every_kind_of_field_in_every_schema(name: str, hostile_context: None) -> None:
    """Context, trace, exception, extras and hostile values: one strict JSON line, scrubbed and capped."""
    line = formatters()[name].format(everything_record())
    parsed = strict_loads(line)
    assert SECRET not in line
    for text in all_strings(parsed):
        # Capped (the marker may follow); stacks have their own larger cap.
        assert len(text) <= _base.STACK_LIMIT + 40
    flat = flatten(parsed)
    trace_values = {str(v) for v in flat.values()}
    # Trace correlation survives an extra that names the same field.
    assert TRACE_ID in " ".join(trace_values) or "11803532876627986230" in trace_values
    assert not any("WSGIRequest" in v or "object at 0x" in v for v in trace_values if "Unprintable" not in v)
    assert any(key.endswith("big") for key in flat) and any(key.endswith("huge") for key in flat)
    for key, value in flat.items():
        if key.endswith("huge"):
            assert value.startswith("x" * FIELD_LIMIT) and value.endswith("chars cut]")


def test_collisions_are_kept_under_lantern_extra(hostile_context: None) -> None:
    """An extra named like a schema field is kept under lantern.extra, never overwriting it."""
    ecs = strict_loads(EcsFormatter().format(make_record(trace="mine")))
    assert ecs["trace"] == {"id": TRACE_ID} and ecs["lantern"]["extra"]["trace"] == "mine"
    dd = strict_loads(DatadogFormatter().format(make_record(dd="mine")))
    assert dd["dd"]["trace_id"] == "11803532876627986230" and dd["lantern"]["extra"]["dd"] == "mine"
    gcp = strict_loads(GcpFormatter().format(make_record(severity="mine")))
    assert gcp["severity"] == "INFO" and gcp["lantern"]["extra"]["severity"] == "mine"


def test_nest_never_overwrites() -> None:
    """Colliding dotted paths are moved aside, in order, and nothing is lost."""
    nested = schema_base.nest({"a": 1, "a.b": 2, "c.d": 3, "c.e": 4, "lantern.x": 5, "f..g": 6})
    assert nested == {"a": 1, "c": {"d": 3, "e": 4}, "lantern": {"extra": {"a.b": 2, "lantern.x": 5, "f..g": 6}}}


@pytest.mark.parametrize("name", ["json", "ecs", "gcp", "datadog"])
def test_a_record_that_cannot_be_rendered_still_yields_one_line(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure inside the schema gives the schema's fallback line, and is counted."""
    failures: list[str] = []
    monkeypatch.setattr(formatters_module, "_count_failure", lambda where, exc: failures.append(where))

    def broken(self: Any, record: logging.LogRecord) -> dict[str, Any]:
        raise RuntimeError("boom")

    formatter = formatters()[name]
    monkeypatch.setattr(type(formatter), "fields", broken)
    parsed = strict_loads(formatter.format(make_record()))
    assert failures == ["log_format"]
    time_key, level_key, _, message_key = (
        formatter.core_names if isinstance(formatter, SchemaFormatter) else ("ts", "level", "", "message")
    )
    if isinstance(formatter, SchemaFormatter):
        assert parsed[message_key] == "a log record could not be formatted"
        assert time_key in parsed and parsed[level_key] in {"error", "ERROR"}
    else:  # the default schema keeps what it can of the record: its message, level and request id
        assert parsed["message"] == "order o-1 placed" and parsed["lantern_format_error"] == "RuntimeError"
        assert time_key in parsed and parsed[level_key] == "info" and "request_id" in parsed


def test_field_map_renames_and_drops() -> None:
    """field_map renames a field of the default schema, or drops it when mapped to None."""
    formatter = SchemaFormatter(field_map={"message": "msg", "ts": "timestamp", "route": None})
    parsed = strict_loads(formatter.format(make_record()))
    assert list(parsed)[:3] == ["timestamp", "level", "logger"]
    assert parsed["msg"] == "order o-1 placed" and "message" not in parsed and "route" not in parsed


def test_field_map_uses_dotted_names_in_nested_schemas(hostile_context: None) -> None:
    """In ECS and Datadog a field is named by its dotted path."""
    ecs = strict_loads(EcsFormatter(field_map={"http.request.id": "labels.request_id"}).format(make_record()))
    assert ecs["labels"]["request_id"] == "rid-hostile" and "id" not in ecs["http"]["request"]
    dd = strict_loads(DatadogFormatter(field_map={"logger.thread_name": None}).format(make_record()))
    assert dd["logger"] == {"name": "shop.orders"}


@pytest.mark.parametrize("name", JSON_FORMATS)
def test_build_logging_config_dispatches_every_schema(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """LANTERN_LOG_FORMAT picks the schema; dictConfig accepts it and lines come out in it."""
    monkeypatch.setenv("LANTERN_LOG_FORMAT", name)
    config = build_logging_config(stream="ext://sys.stdout", field_map={"logger_probe": "renamed_probe"})
    assert config["handlers"]["console"]["formatter"] == name
    expected = FORMATTERS[name] if name != "json" else "django_lantern.logging.schemas.SchemaFormatter"
    assert config["formatters"][name]["()"] == expected
    logging.config.dictConfig(config)
    try:
        logging.getLogger("schema.dispatch").warning("hello", extra={"logger_probe": 1})
    finally:
        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)
    line = strict_loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert flatten(line).get("renamed_probe") == 1 and "logger_probe" not in flatten(line)
    assert {"json": "ts", "ecs": "@timestamp", "gcp": "time", "datadog": "timestamp"}[name] in line


def test_unknown_format_names_all_five() -> None:
    """A bad format names the value and every accepted one."""
    with pytest.raises(ImproperlyConfigured) as info:
        build_logging_config(log_format="logfmt")
    message = str(info.value)
    assert "'logfmt'" in message and all(name in message for name in ("json", "text", "ecs", "gcp", "datadog"))


def test_field_map_is_refused_for_text() -> None:
    """Renaming applies to JSON schemas only; asking it of text is a configuration error."""
    with pytest.raises(ImproperlyConfigured, match="field_map"):
        build_logging_config(log_format="text", field_map={"message": "msg"})


@pytest.mark.parametrize("name", ["json", "text", "ecs", "gcp", "datadog"])
def test_formatter_from_env(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The static-config factory builds the formatter LANTERN_LOG_FORMAT names."""
    monkeypatch.setenv("LANTERN_LOG_FORMAT", name)
    formatter = formatter_from_env()
    expected = FORMATTERS[name].rsplit(".", 1)[1]
    assert type(formatter).__name__ == expected


def test_django_request_status_code_is_status(client: Any, settings: Any) -> None:
    """One name per field: django.request's status_code is written as status, as on the access line."""
    from tests.conftest import CORE_URLS

    settings.ROOT_URLCONF = CORE_URLS
    record = make_record(status_code=404, request=object())
    record.name = "django.request"
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["status"] == 404 and "status_code" not in parsed
    ecs = flatten(strict_loads(EcsFormatter().format(record)))
    assert ecs["http.response.status_code"] == 404
