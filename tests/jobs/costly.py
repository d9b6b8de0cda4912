"""Queries with a known cost, for the task and command lines' cost fields on real workers.

``run_measured(n)`` runs ``n`` distinct ``SELECT %s`` and logs one line,
``queries measured``, with the reference: the number of queries and the sum
of their durations as the query wrapper itself timed them (its clock is
recorded while they run). The task or command line that ends the run must say
the same ``db_queries`` and ``db_ms`` (to 0.01 ms): the same clock reads, so
"equal" is not a tolerance, and a query of another scope, or time outside the
queries, would show.
"""

from __future__ import annotations

import logging

from django.db import connection

from django_lantern.metrics import _db

logger = logging.getLogger("tests.jobs.cost")


def run_measured(n: int) -> None:
    real = _db._clock
    reads: list[float] = []

    def recording() -> float:
        now = real()
        reads.append(now)
        return now

    _db._clock = recording
    try:
        with connection.cursor() as cursor:
            for i in range(n):
                cursor.execute("SELECT %s", [i])
    finally:
        _db._clock = real
    spent = sum(end - start for start, end in zip(reads[::2], reads[1::2], strict=True))
    logger.info("queries measured", extra={"reference_queries": len(reads) // 2, "reference_ms": spent * 1000})
