"""The example's settings with /metrics and incoming request ids limited to 10.0.0.0/8, no trusted proxies."""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import LANTERN as _EXAMPLE_LANTERN

LANTERN = {
    **_EXAMPLE_LANTERN,
    "METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"],
    "REQUEST_ID_TRUSTED_NETWORKS": ["10.0.0.0/8"],
    "TRUSTED_PROXIES": [],
}
