"""django-lantern, everything on: request ids, context filter, JSON access log to a file, metrics.

The ``LOGGING`` dict is ``build_logging_config()``'s, with its console handler
pointed at a file. ``LANTERN`` is left at its defaults (metrics on, incoming
ids validated and trusted, 1 s slow-request threshold).
"""

from typing import Any

from benchproj.base import *  # noqa: F403
from benchproj.base import DEFAULT_MIDDLEWARE, INSTALLED_APPS, lantern_logging

INSTALLED_APPS = [*INSTALLED_APPS, "django_lantern"]
MIDDLEWARE = ["django_lantern.middleware.LanternMiddleware", *DEFAULT_MIDDLEWARE]
LANTERN: dict[str, Any] = {}


LOGGING = lantern_logging("lantern")
