"""Logging helpers: the context filter, two formatters and a config builder."""

from django_lantern.logging._config import build_logging_config
from django_lantern.logging._text import TextFormatter
from django_lantern.logging.filters import RequestContextFilter
from django_lantern.logging.formatters import JsonFormatter

__all__ = ["JsonFormatter", "RequestContextFilter", "TextFormatter", "build_logging_config"]
