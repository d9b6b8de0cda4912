"""The example's settings with SQL comments on and a view that holds a statement open."""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import LANTERN as EXAMPLE_LANTERN

ROOT_URLCONF = "tests.server.sqlcomments_urls"
LANTERN = {**EXAMPLE_LANTERN, "SQL_COMMENTS": ["command", "request_id", "route", "task"]}
