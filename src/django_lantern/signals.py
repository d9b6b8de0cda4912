"""Signal receivers: unhandled view exceptions are counted by type."""

from __future__ import annotations

import sys
from typing import Any

from django_lantern.errors import report_internal_error


def on_request_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    exc = sys.exc_info()[1]
    if exc is None:
        return
    try:
        from django_lantern.metrics import recorder

        recorder.exception_raised(type(exc).__qualname__)
    except Exception as error:
        report_internal_error("exception_signal", error)
