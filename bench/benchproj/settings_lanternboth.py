"""``settings_lantern`` with ``METRICS_NAMING = "both"``: OpenTelemetry's duration labels on our
histogram (no namespace: one family, one observation per request)."""

from benchproj.settings_lantern import *  # noqa: F403
from benchproj.settings_lantern import lantern_logging

LOGGING = lantern_logging("lanternboth")
LANTERN = {"METRICS_NAMING": "both"}
