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
    """``build_logging_config()`` as a project would use it, its handler's stream a file.

    The handler keeps the class the package chose (``SafeStreamHandler`` today);
    only its ``stream`` is replaced by an open file, so the benchmark times the
    package's own handler and not a terminal.
    """
    config = build_logging_config(level="INFO", log_format=log_format)
    console = config["handlers"]["console"]
    if "stream" in console:
        console["stream"] = open(log_file(name), "a", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    else:  # a handler that takes no stream: fall back to a plain file handler
        config["handlers"]["console"] = {
            "class": "logging.FileHandler",
            "filename": log_file(name),
            "formatter": console["formatter"],
            "filters": console["filters"],
        }
    return config


LOGGING = lantern_logging("lantern")
