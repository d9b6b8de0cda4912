"""structlog and django-structlog on django-lantern: our context on their events,
their events through our formatters and scrubber.

Two processors, in structlog's ``(logger, method_name, event_dict)`` shape:

- ``add_request_context`` puts the request context (``request_id``,
  ``user_id``, ``method``, ``path``, ``route``, ``trace_id``, ``span_id``) on
  the event. Inside a request ours win over same-named keys bound elsewhere
  (django-structlog binds its own ``request_id``): one id per request, the
  one on the response header.
- ``render_to_stdlib`` ends the chain by handing the event to the standard
  ``logging`` module, so it goes through ``build_logging_config()``'s handler:
  the context filter, the chosen schema (json, ecs, gcp, datadog, text), the
  field caps and the scrubber, like every other line.

``configure_structlog()`` sets up that chain; docs/logging.md shows it by hand.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from django_lantern.context import CONTEXT_FIELDS, LOG_RECORD_ATTRIBUTES, UNKNOWN, current
from django_lantern.http._users import known_user_id

__all__ = ["add_request_context", "configure_structlog", "processors", "render_to_stdlib"]

# Keys structlog's own processors add that our lines already carry (ts, level, logger).
_REDUNDANT = frozenset({"timestamp", "level", "log_level", "logger", "logger_name"})
# An ``extra`` named like a LogRecord attribute makes logging raise, so such
# event keys are renamed with this prefix instead.
RENAMED_PREFIX = "structlog_"


def add_request_context(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Processor: the request context on the event (``"-"`` outside a request, where bound keys win)."""
    ctx = current.get()
    if ctx is None:
        for name in CONTEXT_FIELDS:
            event_dict.setdefault(name, UNKNOWN)
        return event_dict
    user_id = known_user_id(ctx)
    event_dict.update(
        request_id=ctx.request_id,
        user_id=UNKNOWN if user_id is None else user_id,
        method=ctx.method,
        path=ctx.path,
        route=ctx.route,
        trace_id=ctx.trace_id,
        span_id=ctx.span_id,
    )
    return event_dict


def render_to_stdlib(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """Last processor: ``{"msg", "extra", "exc_info", "stack_info"}`` for a stdlib ``BoundLogger``.

    The event becomes the record's message; every other key an ``extra``
    (renamed when it would clash with a LogRecord attribute), so our
    formatters render and scrub it like any ``extra``.
    """
    event = dict(event_dict)
    message = event.pop("event", "")
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    stack_info = bool(event.pop("stack_info", False))
    extra: dict[str, Any] = {}
    for key, value in event.items():
        name = str(key)
        if name in _REDUNDANT:
            continue
        extra[RENAMED_PREFIX + name if name in LOG_RECORD_ATTRIBUTES else name] = value
    # ``%`` in an event is literal: no args are passed, so it is never formatted.
    return {"msg": message, "extra": extra, "exc_info": exc_info or None, "stack_info": stack_info}


def processors() -> list[Any]:
    """The recommended chain, ending in ``render_to_stdlib``."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        add_request_context,
        render_to_stdlib,
    ]


def configure_structlog(**options: Any) -> None:
    """``structlog.configure()`` so events go through the standard logging handlers
    (``LOGGING = build_logging_config()``); ``options`` override any argument."""
    settings: dict[str, Any] = {
        "processors": processors(),
        "logger_factory": structlog.stdlib.LoggerFactory(),
        "wrapper_class": structlog.stdlib.BoundLogger,
        "cache_logger_on_first_use": True,
    }
    settings.update(options)
    structlog.configure(**settings)
