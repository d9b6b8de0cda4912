"""How a value too long for its sink is cut: one marker, saying how much went.

Log fields, span attributes, Sentry's request and the scanner's own input are
all bounded, and all say so the same way. A value that is also scrubbed is cut
with a margin first (bounded work, and a secret straddling the cap stays whole
for the scanner to recognise), then scrubbed, then cut to its limit.
"""

from __future__ import annotations

from collections.abc import Callable

CUT_MARKER = "...[lantern: %d chars cut]"
# How much past the limit is still scrubbed before the final cut.
SCRUB_MARGIN = 4096


def truncate(value: str, limit: int) -> str:
    """``value`` in at most ``limit`` characters, plus the marker when any were cut."""
    if len(value) <= limit:
        return value
    return value[:limit] + CUT_MARKER % (len(value) - limit)


def capped(value: str, limit: int, scrub: Callable[[str], str] | None = None) -> str:
    """``scrub(value)`` cut to ``limit`` with the marker counting what the original lost.

    Text past ``limit`` plus ``SCRUB_MARGIN`` is dropped before scrubbing: the
    sink never shows it, and it bounds the scan of a huge client-supplied value.
    """
    if scrub is None:
        return truncate(value, limit)
    cut = limit + SCRUB_MARGIN
    if len(value) <= cut:
        return truncate(scrub(value), limit)
    return scrub(value[:cut])[:limit] + CUT_MARKER % (len(value) - limit)
