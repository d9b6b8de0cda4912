"""Ablation: ``settings_lantern`` with ``METRICS_ENABLED`` off."""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanternnometrics")
LANTERN = {"METRICS_ENABLED": False}
