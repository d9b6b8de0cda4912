"""Log line schemas: our default JSON, text, and the vendors' own field names.

``LANTERN_LOG_FORMAT`` (or ``build_logging_config(log_format=...)``) picks
one; every JSON schema is rendered from the same scrubbed and capped fields.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_lantern.logging.formatters import JsonFormatter, TextFormatter
from django_lantern.logging.schemas._base import SchemaFormatter
from django_lantern.logging.schemas._datadog import DatadogFormatter
from django_lantern.logging.schemas._ecs import EcsFormatter
from django_lantern.logging.schemas._gcp import GcpFormatter

# Dotted paths, for ``dictConfig`` formatter entries.
FORMATTERS = {
    "json": "django_lantern.logging.JsonFormatter",
    "text": "django_lantern.logging.TextFormatter",
    "ecs": "django_lantern.logging.schemas._ecs.EcsFormatter",
    "gcp": "django_lantern.logging.schemas._gcp.GcpFormatter",
    "datadog": "django_lantern.logging.schemas._datadog.DatadogFormatter",
}
FORMATS = tuple(FORMATTERS)
JSON_FORMATS = tuple(name for name in FORMATS if name != "text")


def chosen_format(log_format: str | None = None, *, debug: bool = False) -> str:
    """``log_format``, else ``LANTERN_LOG_FORMAT``, else text in debug and json otherwise."""
    env_format = os.environ.get("LANTERN_LOG_FORMAT")
    name = (log_format or env_format or ("text" if debug else "json")).strip().lower()
    if name not in FORMATTERS:
        raise ImproperlyConfigured(
            f"LANTERN_LOG_FORMAT is {log_format or env_format!r}; it must be one of {', '.join(FORMATS)}."
        )
    return name


def formatter_from_env(**options: Any) -> logging.Formatter:
    """A formatter for ``LANTERN_LOG_FORMAT`` (default json), for static logging
    configs such as a uvicorn ``--log-config`` file."""
    classes: dict[str, type[logging.Formatter]] = {
        "json": SchemaFormatter if options.get("field_map") else JsonFormatter,
        "text": TextFormatter,
        "ecs": EcsFormatter,
        "gcp": GcpFormatter,
        "datadog": DatadogFormatter,
    }
    return classes[chosen_format()](**options)


__all__ = [
    "FORMATS",
    "FORMATTERS",
    "JSON_FORMATS",
    "DatadogFormatter",
    "EcsFormatter",
    "GcpFormatter",
    "SchemaFormatter",
    "chosen_format",
    "formatter_from_env",
]
