"""The real-server metrics settings with ``METRICS_NAMING = "otel"``."""

from __future__ import annotations

from tests.server.metrics_settings import *  # noqa: F403
from tests.server.metrics_settings import LANTERN

LANTERN = {**LANTERN, "METRICS_NAMING": "otel"}
