"""Deprecated: import ``make_traces_sampler`` from ``django_lantern.sentry``. Removed in 0.4."""

from __future__ import annotations

import warnings

from django_lantern.sentry import make_traces_sampler

__all__ = ["make_traces_sampler"]

warnings.warn(
    "django_lantern.sentry_sampling is deprecated; import make_traces_sampler from django_lantern.sentry.",
    DeprecationWarning,
    stacklevel=2,
)
