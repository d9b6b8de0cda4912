"""The stack a user assembles today for the same features.

django-guid (request id, log filter), django-structlog (request logs, JSON via
structlog's ``ProcessorFormatter`` to a file), django-prometheus (metrics) and
OpenTelemetry's Django instrumentation (spans, SDK provider, exporter that drops),
each configured as its README says.
"""

import structlog

from benchproj.base import *  # noqa: F403
from benchproj.base import DEFAULT_MIDDLEWARE, INSTALLED_APPS, log_file

PEER_APPS = ["django_guid", "django_prometheus", "django_structlog"]


def peer_middleware(middleware: list[str]) -> list[str]:
    """The peers' middleware around a project's own list, where their READMEs put them."""
    return [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        "django_guid.middleware.guid_middleware",
        "django_structlog.middlewares.RequestMiddleware",
        *middleware,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]


INSTALLED_APPS = [*INSTALLED_APPS, *PEER_APPS]
MIDDLEWARE = peer_middleware(DEFAULT_MIDDLEWARE)
DJANGO_GUID = {"GUID_HEADER_NAME": "X-Request-Id"}
# OpenTelemetry's DjangoInstrumentor inserts its middleware before django.setup().
BENCH_BEFORE_SETUP = "benchproj.otel.setup_peer_tracing"

# django-structlog's documented configuration.
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    cache_logger_on_first_use=True,
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json_formatter": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processor": structlog.processors.JSONRenderer(),
        },
    },
    "filters": {"correlation_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "handlers": {
        "json_file": {
            "class": "logging.FileHandler",
            "filename": log_file("peers"),
            "formatter": "json_formatter",
            "filters": ["correlation_id"],
        },
    },
    "root": {"handlers": ["json_file"], "level": "INFO"},
    "loggers": {
        "django_structlog": {"handlers": ["json_file"], "level": "INFO", "propagate": False},
    },
}
