"""Bare Django without sessions or auth: ``LITE_APPS`` and ``LITE_MIDDLEWARE`` (see ``base.py``)."""

from benchproj.base import *  # noqa: F403
from benchproj.base import LITE_APPS, LITE_MIDDLEWARE

INSTALLED_APPS = list(LITE_APPS)
MIDDLEWARE = list(LITE_MIDDLEWARE)
