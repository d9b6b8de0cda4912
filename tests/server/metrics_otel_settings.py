"""The real-server metrics settings with ``METRICS_NAMING = "both"``."""

from __future__ import annotations

from tests.server.metrics_settings import *  # noqa: F403
from tests.server.metrics_settings import LANTERN

LANTERN = {**LANTERN, "METRICS_NAMING": "both"}
