"""Real (un-profiled) µs of the pieces on lantern's per-request path (``python -m harness.components``).

Each piece is timed on its own in the ``lantern`` configuration, with the
inputs one request of the benchmark produces (the access record of
``GET /data/``), so the profile's ranking can be read in real microseconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from harness.djsetup import emit, pin_to_last_cpu, protocol_stream, setup

ACCESS_ARGS = ("GET", "/data/", 200, 0.07, None)
# The two pieces issue 10's access-record target compares (the report reads them by these names).
ACCESS_RECORD = "access log call, total (AccessLog.write: record, filter, JSON format, file write)"
NO_FRAMEWORK = "the same line with no logging framework (render + file write)"


def _time(fn: Callable[[], Any], n: int = 5000, repeats: int = 9) -> float:
    """The best of ``repeats`` means over ``n`` calls, in µs (as ``timeit`` advises: the
    minimum is the estimate least disturbed by other work on a shared machine)."""
    fn()
    results = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        results.append((time.perf_counter() - start) / n * 1e6)
    return round(min(results), 2)


def main() -> None:
    out = protocol_stream()
    pin_to_last_cpu()
    setup("lantern")
    from django.http import JsonResponse
    from django.test import RequestFactory
    from django_lantern import request_id as request_ids
    from django_lantern.conf import get_settings
    from django_lantern.context import RequestContext, current
    from django_lantern.http._response_headers import add_headers
    from django_lantern.logging._access_log import AccessLog
    from django_lantern.logging._access_record import access_line, make_access_record
    from django_lantern.logging._escape import logfmt_value
    from django_lantern.logging._record_parts import rfc3339
    from django_lantern.logging.filters import RequestContextFilter
    from django_lantern.logging.formatters import JsonFormatter, TextFormatter
    from django_lantern.metrics import _recorder as recorder
    from django_lantern.scrubbing import get_scrubber

    cfg = get_settings()
    access = logging.getLogger(cfg.access_logger)
    request = RequestFactory().get("/data/")
    ctx = RequestContext(request_ids.generate(), "GET", "/data/", request)
    current.set(ctx)

    def record() -> logging.LogRecord:
        # The access record as the access log builds it: the logger's record, typed fields set on it.
        return make_access_record(
            access,
            logging.INFO,
            request_id=ctx.request_id,
            method="GET",
            path="/data/",
            route="data/",
            status=200,
            duration_ms=0.07,
            user_id=None,
            client_ip="127.0.0.1",
        )

    enriched = record()
    RequestContextFilter().filter(enriched)
    json_formatter = JsonFormatter()
    text_formatter = TextFormatter()
    scrubber = get_scrubber()
    message = enriched.getMessage()
    fields = json_formatter.fields(enriched)
    handler = access.handlers[0]
    line = json_formatter.format(enriched)
    response = JsonResponse({"id": 42})
    import orjson

    def write_line() -> None:
        handler.stream.write(line + "\n")  # type: ignore[attr-defined]
        handler.flush()

    access_log = AccessLog()

    def bare_line() -> None:
        # The same line with no logging framework: render it and write it to the same file.
        stream = handler.stream  # type: ignore[attr-defined]
        stream.write(f"{rfc3339(time.time())} INFO access {access_line(*ACCESS_ARGS, 4096)}\n")
        handler.flush()

    def record_metrics() -> None:
        recorder.request_started()
        recorder.request_finished("GET", "data/", 200, 0.001, probe=False)

    pieces: dict[str, float] = {
        ACCESS_RECORD: _time(lambda: access_log.write(ctx, cfg, 200, 0.07)),
        NO_FRAMEWORK: _time(bare_line),
        "access record creation (make_access_record)": _time(record),
        "RequestContextFilter.filter": _time(lambda: RequestContextFilter().filter(record())),
        "JsonFormatter.format (access record)": _time(lambda: json_formatter.format(enriched)),
        "TextFormatter.format (access record)": _time(lambda: text_formatter.format(enriched)),
        "  JsonFormatter.fields": _time(lambda: json_formatter.fields(enriched)),
        "    Scrubber.scrub_text(access message)": _time(lambda: scrubber.scrub_text(message)),
        "    Scrubber.scrub(extras {status, duration_ms})": _time(
            lambda: scrubber.scrub({"status": 200, "duration_ms": 0.07})
        ),
        "    rfc3339(record.created)": _time(lambda: rfc3339(enriched.created)),
        "    record.getMessage()": _time(enriched.getMessage),
        "  orjson.dumps(fields)": _time(lambda: orjson.dumps(fields).decode()),
        "handler stream write + flush of one line": _time(write_line),
        "logfmt_value(method) + logfmt_value(path)": _time(
            lambda: (logfmt_value("GET", 32), logfmt_value("/data/", cfg.log_field_max_length))
        ),
        "recorder.request_started + request_finished": _time(record_metrics),
        "request_id.generate()": _time(request_ids.generate),
        "RequestContext(...) + contextvar set/reset": _time(
            lambda: current.reset(current.set(RequestContext("x", "GET", "/data/", request)))
        ),
        "response_headers.add_headers": _time(lambda: add_headers(response, ctx.request_id, cfg)),
        "ctx.route (resolver_match lookup)": _time(lambda: ctx.route),
    }
    emit(
        out,
        {
            "pieces_us": pieces,
            "access_record_us": pieces[ACCESS_RECORD],
            "no_framework_line_us": pieces[NO_FRAMEWORK],
            "access_message": message,
            "json_line_bytes": len(line),
        },
    )


if __name__ == "__main__":
    main()
