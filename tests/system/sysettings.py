"""Settings for the example under the system suite: the example's own, plus switches.

Environment switches (all optional):

- ``LANTERN_SYSTEM_LOG_HANDLER``: ``nonblocking`` (queue handler on stdout),
  ``safe`` (counting stream handler), ``file:<path>`` (counting file handler)
  or ``nonblocking-file:<path>``; unset keeps the example's handler.
- ``LANTERN_SYSTEM_DRAIN``: ``SHUTDOWN_DRAIN_SECONDS``.
- ``LANTERN_SYSTEM_SENTRY_DSN``: sentry-sdk sending to a local recorder.
- ``LANTERN_SYSTEM_OTLP``: an OTLP/HTTP traces endpoint on 127.0.0.1 (tracing on).
- ``LANTERN_SYSTEM_METRICS_TOKEN``: /metrics needs this bearer token (no network allowed but 10/8).
- ``LANTERN_SYSTEM_REDIS_NO_TIMEOUTS=1``: the Redis cache without socket timeouts (redis-py's defaults).
"""

from __future__ import annotations

import os
from typing import Any

from config.settings import *  # noqa: F403
from config.settings import LANTERN as _EXAMPLE_LANTERN
from config.settings import LOGGING as _EXAMPLE_LOGGING

if os.environ.get("LANTERN_SYSTEM_REDIS_NO_TIMEOUTS") == "1" and "OPTIONS" in CACHES["default"]:  # noqa: F405
    CACHES["default"]["OPTIONS"] = {  # noqa: F405
        k: v
        for k, v in CACHES["default"]["OPTIONS"].items()  # noqa: F405
        if k not in ("socket_timeout", "socket_connect_timeout")
    }

# The suite counts one access line per request: no sampling (a healthy probe writes none: SLOW_PROBE_MS).
LANTERN = {**_EXAMPLE_LANTERN, "ACCESS_LOG_SAMPLE_PATHS": {}}
if os.environ.get("LANTERN_SYSTEM_DRAIN"):
    LANTERN["SHUTDOWN_DRAIN_SECONDS"] = float(os.environ["LANTERN_SYSTEM_DRAIN"])

LOGGING: dict[str, Any] = {**_EXAMPLE_LOGGING, "handlers": dict(_EXAMPLE_LOGGING["handlers"])}
_handler = os.environ.get("LANTERN_SYSTEM_LOG_HANDLER", "")
_console = dict(LOGGING["handlers"]["console"])
if _handler == "nonblocking":
    _console["class"] = "django_lantern.logging.handlers.NonBlockingStreamHandler"
    _console["max_queue"] = 1000
elif _handler == "safe":
    _console["class"] = "django_lantern.logging.handlers.SafeStreamHandler"
elif _handler.startswith("file:"):
    _console = {k: v for k, v in _console.items() if k != "stream"}
    _console["class"] = "django_lantern.logging.handlers.SafeFileHandler"
    _console["filename"] = _handler.removeprefix("file:")
elif _handler.startswith("nonblocking-file:"):
    _console = {k: v for k, v in _console.items() if k != "stream"}
    _console["class"] = "django_lantern.logging.handlers.NonBlockingStreamHandler"
    _console["filename"] = _handler.removeprefix("nonblocking-file:")
LOGGING["handlers"]["console"] = _console

if os.environ.get("LANTERN_SYSTEM_SENTRY_DSN"):
    import sentry_sdk

    # shutdown_timeout=0: the SDK's own exit hook does not wait, so delivery is down to lantern's flush.
    sentry_sdk.init(dsn=os.environ["LANTERN_SYSTEM_SENTRY_DSN"], traces_sample_rate=0.0, shutdown_timeout=0)

if os.environ.get("LANTERN_SYSTEM_OTLP"):
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # shutdown_on_exit=False: no atexit flush by the SDK, so delivery is down to lantern's flush.
    _provider = TracerProvider(shutdown_on_exit=False)
    # A long schedule delay: spans leave only when flushed, which is what the shutdown test checks.
    _provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["LANTERN_SYSTEM_OTLP"]), schedule_delay_millis=600_000)
    )
    trace.set_tracer_provider(_provider)
    try:  # the middleware's server span, when the tracing integration is present
        from django_lantern import tracing as _tracing

        _tracing.enable(_provider)
    except (ImportError, AttributeError):
        pass

if os.environ.get("LANTERN_SYSTEM_METRICS_TOKEN"):
    # /metrics only for the token or 10.0.0.0/8: loopback (the suite's own address) is not allowed,
    # so a spoofed X-Forwarded-For from 127.0.0.1 is the only way in without the token.
    LANTERN["METRICS_BEARER_TOKEN"] = os.environ["LANTERN_SYSTEM_METRICS_TOKEN"]
    LANTERN["METRICS_ALLOWED_NETWORKS"] = ["10.0.0.0/8"]
