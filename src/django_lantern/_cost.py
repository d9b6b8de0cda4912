"""What one request, task run or command cost: queries, cache look-ups, outbound calls, CPU.

One :class:`Cost` per scope, created with its context (``context.RequestContext``)
and shared by the binds nested in it, so whatever runs in the scope's context
adds to it: the query wrapper (``metrics/_db.py``), the cache backends
(``metrics/cache.py``), the outbound transports (``outbound/``). The access
line and the task line read it once, at the end (:meth:`Cost.fields`).

Work outside the scope's context is not counted: readiness checks run in
threads of their own (``health/_worker.py``), which start without a context,
and their cache traffic is ``uncounted``.

The per-query step is a few attribute updates and one hash: the statement and
its parameters are kept as a 64-bit hash, never as text, at most
``MAX_STATEMENTS`` of them, so a request holds neither SQL nor values and its
memory stays bounded; a repeat past that bound is not recognised.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["COST_FIELDS", "Cost", "ms"]

# The fields, in the order every line shows them (DESIGN.md names them).
COST_FIELDS = (
    "db_queries",
    "db_ms",
    "db_duplicates",
    "cache_hits",
    "cache_misses",
    "outbound_calls",
    "outbound_ms",
    "cpu_ms",
    "response_bytes",
)
# The distinct statements a scope remembers to find repeats.
MAX_STATEMENTS = 1024

_thread_time = time.thread_time
_get_ident = threading.get_ident


def ms(seconds: float) -> float:
    """Seconds as milliseconds to 0.01, half up: a third of ``round(x, 2)``'s cost, paid on every line."""
    return int(seconds * 100000.0 + 0.5) / 100 if seconds > 0 else 0.0


class Cost:
    """The running totals of one scope; updated by whoever does the work, read at its end.

    The counters start as class attributes (0, and None for the size and the outer
    scope): a scope sets only what it uses, so opening one, on every request, writes
    two attributes.
    """

    db_queries = 0
    db_seconds = 0.0
    db_duplicates = 0
    # The hashes of the statements seen, made at the first query.
    statements: set[int] | None = None
    cache_hits = 0
    cache_misses = 0
    outbound_calls = 0
    outbound_seconds = 0.0
    # None until the response says it (``response_bytes``), and where it never does.
    response_bytes: int | None = None
    # The scope this one runs inside (a task run eagerly in a request), told at :meth:`settle`.
    outer: Cost | None = None

    def __init__(self, outer: Cost | None = None) -> None:
        if outer is not None:
            self.outer = outer
        # CPU time is per thread: read again at the end only in the thread that started.
        self.thread = _get_ident()
        self.cpu_started = _thread_time()

    def query(self, seconds: float, sql: Any, params: Any) -> None:
        """One query, timed by the caller's clock reads; a repeat of an earlier statement
        with the same parameters is a duplicate."""
        self.db_queries += 1
        self.db_seconds += seconds
        try:
            key = hash((sql, tuple(params) if type(params) is list else params))
        except TypeError:  # an unhashable parameter (a dict, a list of lists): not compared
            return
        statements = self.statements
        if statements is None:
            statements = self.statements = set()
        if key in statements:
            self.db_duplicates += 1
        elif len(statements) < MAX_STATEMENTS:
            statements.add(key)

    def outbound(self, seconds: float) -> None:
        self.outbound_calls += 1
        self.outbound_seconds += seconds

    def settle(self) -> None:
        """The scope ended: its counts join the scope it ran inside, once (CPU time already does)."""
        outer, self.outer = self.outer, None
        if outer is None:
            return
        outer.db_queries += self.db_queries
        outer.db_seconds += self.db_seconds
        outer.db_duplicates += self.db_duplicates
        outer.cache_hits += self.cache_hits
        outer.cache_misses += self.cache_misses
        outer.outbound_calls += self.outbound_calls
        outer.outbound_seconds += self.outbound_seconds

    def cpu_ms(self) -> float | None:
        """This thread's CPU time since the scope opened; None when asked from another thread."""
        if _get_ident() != self.thread:
            return None
        return ms(_thread_time() - self.cpu_started)

    def values(self) -> tuple[Any, ...]:
        """The cost fields' values in ``COST_FIELDS``' order, as an access line shows them
        (``response_bytes`` None when no response said it)."""
        cpu = None
        if _get_ident() == self.thread:  # :meth:`cpu_ms` and :func:`ms` inline: this runs on every access line
            cpu = _thread_time() - self.cpu_started
            cpu = int(cpu * 100000.0 + 0.5) / 100 if cpu > 0 else 0.0
        if not self.db_queries and not self.outbound_calls:  # most requests of a cached page
            return (0, 0.0, 0, self.cache_hits, self.cache_misses, 0, 0.0, cpu, self.response_bytes)
        return (
            self.db_queries,
            ms(self.db_seconds),
            self.db_duplicates,
            self.cache_hits,
            self.cache_misses,
            self.outbound_calls,
            ms(self.outbound_seconds),
            cpu,
            self.response_bytes,
        )

    def fields(self) -> dict[str, Any]:
        """The cost fields of a task or command line, typed: ints, floats in ms to 0.01
        (``cpu_ms`` None when unknown); ``response_bytes`` only when a response said it."""
        return {
            "db_queries": self.db_queries,
            "db_ms": ms(self.db_seconds),
            "db_duplicates": self.db_duplicates,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "outbound_calls": self.outbound_calls,
            "outbound_ms": ms(self.outbound_seconds),
            "cpu_ms": self.cpu_ms(),
        } | ({} if self.response_bytes is None else {"response_bytes": self.response_bytes})
