"""Request ids: what may be one, how a fresh one is made, and the one rule for incoming ids.

An incoming id is accepted only if it is 1 to 128 characters from a safe set:
ASCII letters, digits and ``- _ . :``. That admits hex ids, hyphenated UUIDs,
ULIDs, nginx ``$request_id``, AWS ``Root=1-...`` style values minus ``=``, and
keeps out everything that could forge a log field or line (spaces, quotes,
``=``, control characters, non-ASCII). It must also hold at least one letter
or digit: ``-`` is what logs say for "no request", and ``...`` or ``---`` would
be just as useless to search for.

Every source of an incoming id (an HTTP header, ``bind(request_id=...)``, a
Celery message header, a ``django.tasks`` row) goes through :func:`accept`, so
each is validated the same way and a rejection is logged with one message,
which names the source and the length, never the value.
"""

from __future__ import annotations

import logging
import os
import re

__all__ = ["MAX_LENGTH", "accept", "generate", "is_valid"]

MAX_LENGTH = 128
# The look-ahead (at least one letter or digit) is bounded by the same length cap.
_VALID = re.compile(rf"(?=[._:\-]{{0,{MAX_LENGTH - 1}}}[A-Za-z0-9])[A-Za-z0-9._:\-]{{1,{MAX_LENGTH}}}", re.ASCII)

# The sources, as the rejection message names them.
HEADER = "header"
BIND = "bind()"
TASK_MESSAGE = "task message"
TASK_ROW = "task row"

# The rejected value itself is never logged: only its length and where it came from.
REJECTED_MESSAGE = "Rejected an invalid request id (length %d) from a %s; generated a new one."

logger = logging.getLogger("django_lantern.request_id")


def is_valid(value: str) -> bool:
    """True when ``value`` may be used as a request id as it is."""
    return _VALID.fullmatch(value) is not None


def generate() -> str:
    """A fresh random id: 32 lowercase hex characters (128 bits)."""
    return os.urandom(16).hex()


def rejected_length(value: object) -> int | None:
    """None when ``value`` may be the request id as it is, else the length to report (0: not a string)."""
    if isinstance(value, str):
        return None if _VALID.fullmatch(value) is not None else len(value)
    return 0


def log_rejected(source: str, length: int) -> None:
    """The one warning for a rejected incoming id, logged where the caller's context says."""
    logger.warning(REJECTED_MESSAGE, length, source)


def accept(value: object, source: str) -> str | None:
    """``value`` when it may be the request id; None when it is absent or rejected.

    A rejection is logged at once (see :func:`log_rejected`); the caller then
    uses a fresh id. The HTTP path, which logs inside the new request's
    context, calls :func:`rejected_length` and :func:`log_rejected` itself.
    """
    if value is None:
        return None
    length = rejected_length(value)
    if length is None:
        return value  # type: ignore[return-value]  # rejected_length admits only valid strings
    log_rejected(source, length)
    return None
