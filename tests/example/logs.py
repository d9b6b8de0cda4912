"""Helpers for reading captured log records the way a sink would see them."""

from __future__ import annotations

import logging

from django_lantern.logging import JsonFormatter, TextFormatter

ACCESS_LOGGER = "access"

_json = JsonFormatter()
_text = TextFormatter()


def records_of(records: list[logging.LogRecord], logger: str) -> list[logging.LogRecord]:
    return [r for r in records if r.name == logger]


def rendered(record: logging.LogRecord) -> str:
    """Everything a sink could receive for ``record``: message, JSON line, text line, attributes.

    Django's ``request`` object (passed in ``extra`` by ``django.request``) is left
    out: the formatters never stringify it, and its repr holds the query string.
    """
    attributes = {k: v for k, v in vars(record).items() if k != "request"}
    return "\n".join([record.getMessage(), _json.format(record), _text.format(record), repr(attributes)])
