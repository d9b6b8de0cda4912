"""django-lantern, everything on: request ids, context filter, JSON access log to a file, metrics.

The ``LOGGING`` dict is ``build_logging_config()``'s, with its console handler
pointed at a file. ``LANTERN`` is left at its defaults (metrics on, incoming
ids validated and trusted, 1 s slow-request threshold).
"""

from typing import Any

from django_lantern.logging import build_logging_config

from benchproj.base import *  # noqa: F403
from benchproj.base import DEFAULT_MIDDLEWARE, INSTALLED_APPS, log_file

INSTALLED_APPS = [*INSTALLED_APPS, "django_lantern"]
MIDDLEWARE = ["django_lantern.middleware.LanternMiddleware", *DEFAULT_MIDDLEWARE]
LANTERN: dict[str, Any] = {}


def lantern_logging(name: str, log_format: str = "json") -> dict[str, Any]:
    config = build_logging_config(level="INFO", log_format=log_format)
    console = config["handlers"]["console"]
    config["handlers"]["console"] = {
        "class": "logging.FileHandler",
        "filename": log_file(name),
        "formatter": console["formatter"],
        "filters": console["filters"],
    }
    return config


LOGGING = lantern_logging("lantern")
