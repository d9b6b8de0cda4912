"""Render untrusted values so they cannot forge a field or a line.

Text logs are ``key=value`` pairs. A value made only of characters that can
never be mistaken for syntax is written as it is; anything else is written as a
JSON string literal (double-quoted, with quotes, backslashes, control
characters, ANSI escapes and non-ASCII text escaped), which logfmt parsers read
back exactly.
"""

from __future__ import annotations

import json
import re

from django_lantern.scrubbing._cut import truncate

_BARE = re.compile(r"[A-Za-z0-9_./:@+\-,%*~]+", re.ASCII)
# True when a string can be written after ``key=`` as it is (non-empty, no syntax).
is_bare = _BARE.fullmatch


def logfmt_value(value: object, limit: int = 4096) -> str:
    """One value, safe to place after ``key=`` in a text log line."""
    text = value if isinstance(value, str) else str(value)
    text = truncate(text, limit)
    if _BARE.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=True)
