"""django-lantern as ``settings_lantern``, plus SQL comments with every per-context key."""

from benchproj.settings_lantern import *  # noqa: F403

LANTERN = {"SQL_COMMENTS": ["command", "request_id", "route", "task", "traceparent"]}
