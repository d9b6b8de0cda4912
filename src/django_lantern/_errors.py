"""Errors inside django-lantern itself: counted always, logged once per kind.

Observability code must never break the request it observes. Every guarded
block reports here instead of raising; the first error of each (place, type)
pair is logged with its traceback, later ones only counted, so a persistent
fault cannot flood the logs.

Counting in Prometheus is the metrics package's business: it connects to
:data:`internal_error_reported` at start-up, so this module, which every
layer imports, imports none of them.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from django.dispatch import Signal

logger = logging.getLogger("django_lantern")

_seen: set[tuple[str, str]] = set()
_lock = threading.Lock()
counts: dict[str, int] = {}

# Sent with ``where`` for every error reported (``lantern_internal_errors_total``).
internal_error_reported = Signal()


def report_internal_error(where: str, exc: BaseException) -> None:
    key = (where, type(exc).__qualname__)
    with _lock:
        counts[where] = counts.get(where, 0) + 1
        first = key not in _seen
        if first:
            _seen.add(key)
    with contextlib.suppress(Exception):
        internal_error_reported.send(sender=None, where=where)
    if first:
        with contextlib.suppress(Exception):
            logger.error(
                "django-lantern internal error in %s (logged once; later ones are only counted)",
                where,
                exc_info=exc,
            )
