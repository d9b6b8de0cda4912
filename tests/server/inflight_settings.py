"""The example's settings with the stuck-request views mounted; ``/metrics``, ``/statusz`` and ``/threadz``
open only to the bearer token, so a test on loopback can see the 403 too."""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import LANTERN

ROOT_URLCONF = "tests.server.inflight_urls"
TOKEN = "inflight-test-token"
LANTERN = {**LANTERN, "METRICS_BEARER_TOKEN": TOKEN, "METRICS_ALLOWED_NETWORKS": []}
if os.environ.get("INFLIGHT_TEST_STUCK_MS"):
    LANTERN["STUCK_REQUEST_MS"] = float(os.environ["INFLIGHT_TEST_STUCK_MS"])
