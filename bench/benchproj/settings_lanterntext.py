"""Variant: ``settings_lantern`` with the text formatter instead of JSON."""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanterntext", log_format="text")
