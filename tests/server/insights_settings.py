"""The example's settings with the query-insights test views mounted (tests/urls_insights.py)."""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.urls_insights"
