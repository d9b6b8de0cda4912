"""The one receiver for a request's unhandled exceptions.

An exception reaches lantern by three roads: Django's ``got_request_exception``
(a view raised; Django turns it into a 500 before the middleware sees it), the
middleware's own ``except`` (a probe view, or anything else escaping the
chain), and the end of a streaming body that raised. All three call
:func:`on_exception`, which counts it by type (``lantern_exceptions_total``)
and records it on the request's server span when there is one.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from django_lantern import _taps, tracing
from django_lantern._errors import report_internal_error
from django_lantern.context import current
from django_lantern.logging import _held as debug_lines
from django_lantern.metrics import _recorder as recorder

if TYPE_CHECKING:
    from django.http import HttpRequest


def on_exception(exc: BaseException, span: Any = None, *, count: bool = True) -> None:
    """Count ``exc`` (unless the caller knows Django's signal will) and record it
    on ``span`` (the OpenTelemetry server span, or None). Never raises."""
    if count:
        try:
            recorder.exception_raised(type(exc).__qualname__)
            if _taps.exception is not None:
                _taps.exception(exc)
        except Exception as error:
            report_internal_error("exception_signal", error)
    if span is not None:
        tracing.record_exception(span, exc)  # never raises


def on_request_exception(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    """``got_request_exception``, connected once in ``AppConfig.ready``."""
    # DEBUG_ON_ERROR: the request's DEBUG lines before the ERROR line Django writes next.
    debug_lines.flush(current.get())
    exc = sys.exc_info()[1]
    if exc is not None:
        on_exception(exc, getattr(request, "_lantern_span", None))
