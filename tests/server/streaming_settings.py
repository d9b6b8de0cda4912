"""The example's settings with the streaming test views mounted."""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.server.streaming_urls"
