"""Keeping django-lantern's own summary lines out of Sentry: the one place that decides it.

The access line and the task line describe a failure that is already one
Sentry event (Django or the task framework logs the exception itself); as
events of their own they would double every failure. The access logger's
lines are dropped in ``before_send`` (:func:`is_own_line`), which runs only
with :func:`django_lantern.sentry.init`; the task logger is also handed to
sentry-sdk's ``ignore_logger`` (:func:`quiet_task_line`), because task
workers are often set up with a bare ``sentry_sdk.init``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_lantern.conf import get_settings

DEFAULT_TASK_LOGGER = "lantern.task"


def is_own_line(event: Mapping[str, Any]) -> bool:
    """True for an event made from the access line alone (no exception attached)."""
    return event.get("logger") == get_settings().access_logger and "exception" not in event


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
