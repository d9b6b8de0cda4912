"""Listing 21.4.3: ``config/logging_filters.py``."""

from __future__ import annotations

import logging

from chapter.request_context import get_request_id


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_request_id()
        return True
