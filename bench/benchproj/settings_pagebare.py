"""The example project without django-lantern: ``settings_page`` less the package's app,
middleware, template context processor, counted cache backend, error reporters,
``LANTERN`` and ``LOGGING`` (Django's default logging plus a root file handler,
as ``base.py``), and a URLconf without the package's probe and metrics routes."""

from benchproj.base import LOGGING as BARE_LOGGING
from benchproj.settings_page import *  # noqa: F403
from benchproj.settings_page import INSTALLED_APPS, MIDDLEWARE, TEMPLATES

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_lantern"]
MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("django_lantern.")]
TEMPLATES = [
    {
        **engine,
        "OPTIONS": {
            **engine["OPTIONS"],
            "context_processors": [
                cp for cp in engine["OPTIONS"]["context_processors"] if not cp.startswith("django_lantern.")
            ],
        },
    }
    for engine in TEMPLATES
]
# Bare Django's logging (base.py): nothing per 200 response.
LOGGING = BARE_LOGGING
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ROOT_URLCONF = "benchproj.page_urls"
del LANTERN, DEFAULT_EXCEPTION_REPORTER_FILTER, DEFAULT_EXCEPTION_REPORTER  # noqa: F821
