"""Ablation: ``settings_lantern`` with the access logger above INFO (no access record is built)."""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanternnolog")
LOGGING["loggers"]["access"]["level"] = "WARNING"
