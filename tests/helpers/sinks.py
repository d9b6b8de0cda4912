"""A log handler that renders every record in each of the five formats, for "appears in no line" checks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from django_lantern.logging import JsonFormatter, RequestContextFilter, TextFormatter
from django_lantern.logging.schemas import DatadogFormatter, EcsFormatter, GcpFormatter

H = TypeVar("H", bound=logging.Handler)
FORMATS = ("json", "text", "ecs", "gcp", "datadog")


class FiveFormats(logging.Handler):
    """Every record rendered by each of the five formatters."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.formatters: dict[str, logging.Formatter] = {
            "json": JsonFormatter(),
            "text": TextFormatter(),
            "ecs": EcsFormatter(),
            "gcp": GcpFormatter(project="p"),
            "datadog": DatadogFormatter(),
        }
        self.lines: dict[str, list[str]] = {name: [] for name in FORMATS}

    def emit(self, record: logging.LogRecord) -> None:
        for name, formatter in self.formatters.items():
            self.lines[name].append(formatter.format(record))

    def everything(self) -> str:
        return "\n".join(line for lines in self.lines.values() for line in lines)


@contextmanager
def attached(handler: H) -> Iterator[H]:
    """``handler`` on the root and the non-propagating ``access`` logger for the block."""
    targets = [logging.getLogger(), logging.getLogger("access")]
    for target in targets:
        target.addHandler(handler)
    try:
        yield handler
    finally:
        for target in targets:
            target.removeHandler(handler)


@contextmanager
def five_formats() -> Iterator[FiveFormats]:
    """Capture every record in all five formats."""
    with attached(FiveFormats()) as handler:
        yield handler
