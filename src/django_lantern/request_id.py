"""Parse, validate and generate request ids.

An incoming id is accepted only if it is 1 to 128 characters from a safe set:
ASCII letters, digits and ``- _ . :``. That admits hex ids, hyphenated UUIDs,
ULIDs, nginx ``$request_id``, AWS ``Root=1-...`` style values minus ``=``, and
keeps out everything that could forge a log field or line (spaces, quotes,
``=``, control characters, non-ASCII). It must also hold at least one letter
or digit: ``-`` is what logs say for "no request", and ``...`` or ``---`` would
be just as useless to search for.
"""

from __future__ import annotations

import os
import re

__all__ = ["MAX_LENGTH", "generate", "is_valid"]

MAX_LENGTH = 128
# The look-ahead (at least one letter or digit) is bounded by the same length cap.
_VALID = re.compile(rf"(?=[._:\-]{{0,{MAX_LENGTH - 1}}}[A-Za-z0-9])[A-Za-z0-9._:\-]{{1,{MAX_LENGTH}}}", re.ASCII)

# The rejected value itself is never logged: only its length.
REJECTED_MESSAGE = "Rejected an invalid incoming request id (length %d); generated a new one."


def is_valid(value: str) -> bool:
    """True when ``value`` may be used as a request id as it is."""
    return _VALID.fullmatch(value) is not None


def generate() -> str:
    """A fresh random id: 32 lowercase hex characters (128 bits)."""
    return os.urandom(16).hex()
