"""``settings_lantern`` with ``METRICS_NAMING = "both"`` under a namespace: two histograms, so
each request observes ours and OpenTelemetry's."""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanternbothns")
LANTERN = {"METRICS_NAMING": "both", "METRICS_NAMESPACE": "shop"}
