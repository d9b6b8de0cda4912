"""Keeping django-lantern's own summary lines out of Sentry: the one place that decides it.

The access line and the task line describe a failure that is already one
Sentry event (Django or the task framework logs the exception itself); as
events of their own they would double every failure. The access logger's
lines are dropped in ``before_send`` (:func:`is_own_line`), which runs only
with :func:`django_lantern.sentry.init`; the task logger is also handed to
sentry-sdk's ``ignore_logger`` (:func:`quiet_task_line`), because task
workers are often set up with a bare ``sentry_sdk.init``.

A streaming body that raises is the exception to the first rule: Django
never sees it, so the access line that carries it is its event
(:func:`is_repeat_of_own_line`). The server's wrapper (sentry-sdk's WSGI or
ASGI middleware) then reports the same exception object a second time.
sentry-sdk's own dedupe remembers the last exception in a context variable,
which catches that under gunicorn (one thread, one context) but not under
uvicorn, where the body runs in another task or thread than the wrapper.
So the exception is marked when its access-line event goes out, and a later
event for that same object is dropped, whichever context it comes from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from django_lantern.conf import get_settings

DEFAULT_TASK_LOGGER = "lantern.task"

# Set on an exception object once the access line that carries it became an event.
_SENT_BY_ACCESS_LINE = "_lantern_sent_by_access_line"


def is_own_line(event: Mapping[str, Any]) -> bool:
    """True for an event made from the access line alone (no exception attached)."""
    return event.get("logger") == get_settings().access_logger and "exception" not in event


def is_repeat_of_own_line(event: Mapping[str, Any], exc: BaseException | None) -> bool:
    """True for a second event of an exception the access line already reported.

    Called for every event that is about to be sent (``exc`` is the hint's
    exception, if any); marks ``exc`` when ``event`` is that access line.
    """
    if exc is None:
        return False
    if getattr(exc, _SENT_BY_ACCESS_LINE, False):
        return True
    if event.get("logger") == get_settings().access_logger:
        with contextlib.suppress(AttributeError, TypeError):  # a type that takes no attributes
            setattr(exc, _SENT_BY_ACCESS_LINE, True)
    return False


def quiet_task_line() -> None:
    """Ask sentry-sdk (when installed) to make no event or breadcrumb of the task line."""
    try:
        from sentry_sdk.integrations.logging import ignore_logger
    except ImportError:
        return
    try:
        ignore_logger(get_settings().task_logger)
    except Exception:  # settings not ready or invalid: the default name
        ignore_logger(DEFAULT_TASK_LOGGER)
