"""``settings_lanterncomments`` plus ``callsite``: a walk up the stack on every query."""

from benchproj.settings_lantern import *  # noqa: F403

LANTERN = {"SQL_COMMENTS": ["callsite", "command", "request_id", "route", "task", "traceparent"]}
