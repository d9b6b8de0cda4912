"""Ablation: only the middleware's own work (ids, context, headers): no access record, no metrics."""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanterncore")
LOGGING["loggers"]["access"]["level"] = "WARNING"
LANTERN = {"METRICS_ENABLED": False}
