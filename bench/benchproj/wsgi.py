"""WSGI entry point for gunicorn; ``DJANGO_SETTINGS_MODULE`` picks the configuration."""

from __future__ import annotations

import os

from benchproj.hooks import before_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchproj.settings_bare")
before_setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
