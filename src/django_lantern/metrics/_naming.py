"""Metric names with the namespace, and the labels of ``lantern_build_info``.

The families themselves are all in :mod:`django_lantern.metrics._families`.
"""

from __future__ import annotations

import platform

import django

from django_lantern import __version__
from django_lantern._release import identity
from django_lantern.conf import LanternSettings
from django_lantern.context import UNKNOWN_LABEL

# Label values that come from configuration or the environment, not from
# clients, are still clipped: a 10 kB release string is a mistake, not a label.
MAX_INFO_LABEL = 128


def metric_name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}" if prefix else name


def _info_value(value: object) -> str:
    if not isinstance(value, str) or not value:
        return UNKNOWN_LABEL
    return value[:MAX_INFO_LABEL]


def build_labels(cfg: LanternSettings) -> dict[str, str]:
    """``release`` and ``environment``: the process's identity (``_release``), the
    values every other sink uses, so a deploy is named the same everywhere."""
    found = identity()
    release, environment = found.release, found.environment
    return {
        "version": __version__,
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
        "release": _info_value(release),
        "environment": _info_value(environment),
    }
