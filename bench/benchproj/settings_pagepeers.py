"""The example project with the peer stack in lantern's place: ``settings_pagebare`` plus
django-guid, django-structlog, django-prometheus and OpenTelemetry's instrumentation,
configured as in ``settings_peers``."""

from benchproj.settings_pagebare import *  # noqa: F403
from benchproj.settings_pagebare import INSTALLED_APPS, MIDDLEWARE
from benchproj.settings_peers import BENCH_BEFORE_SETUP, DJANGO_GUID, LOGGING, PEER_APPS, peer_middleware  # noqa: F401

INSTALLED_APPS = [*INSTALLED_APPS, *PEER_APPS]
MIDDLEWARE = peer_middleware(MIDDLEWARE)
