"""The example project with the peer stack in lantern's place: ``settings_pagebare`` plus
django-guid, django-structlog, django-prometheus and OpenTelemetry's instrumentation,
configured as in ``settings_peers``."""

from benchproj.settings_pagebare import *  # noqa: F403
from benchproj.settings_pagebare import INSTALLED_APPS, MIDDLEWARE
from benchproj.settings_peers import BENCH_BEFORE_SETUP, DJANGO_GUID, LOGGING  # noqa: F401 (settings)

INSTALLED_APPS = [*INSTALLED_APPS, "django_guid", "django_prometheus", "django_structlog"]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_guid.middleware.guid_middleware",
    "django_structlog.middlewares.RequestMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
