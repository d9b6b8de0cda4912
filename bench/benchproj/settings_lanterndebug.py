"""Variant: ``settings_lantern`` with ``LANTERN["DEBUG_ON_ERROR"]`` on (each request opens and drops a buffer)."""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LANTERN = {"DEBUG_ON_ERROR": True}
LOGGING = lantern_logging("lanterndebug")
