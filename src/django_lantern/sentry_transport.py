"""Deprecated: import ``count_lost_events`` from ``django_lantern.sentry``. Removed in 0.4."""

from __future__ import annotations

import warnings

from django_lantern.sentry import count_lost_events

__all__ = ["count_lost_events"]

warnings.warn(
    "django_lantern.sentry_transport is deprecated; import count_lost_events from django_lantern.sentry.",
    DeprecationWarning,
    stacklevel=2,
)
