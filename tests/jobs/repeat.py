"""One statement run ``times`` times, for the query-insights tests on real workers and commands."""

from __future__ import annotations

from django.db import connection


def repeat_query(times: int) -> int:
    with connection.cursor() as cursor:
        for i in range(times):
            cursor.execute("SELECT %s", [i])  # REPEAT_LINE
    return times
