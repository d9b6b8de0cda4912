"""Turning ``extra`` values into JSON values, and keeping every line strict UTF-8.

Log pipelines index fields by type, so a value keeps the type a reader
expects: dates and times as ISO 8601 strings, a UUID as its canonical string,
a ``Decimal`` as its exact string (a float would round it), bytes as text
with undecodable bytes escaped (``\\xff``), an enum as its value, a path as a
path. Never a Python ``repr`` such as ``"datetime.datetime(2026, 1, 2, 3, 4)"``.

Strict UTF-8: a ``str`` can hold a lone surrogate (``"\\ud800"``, from a
client's JSON body with a bad ``\\u`` escape, or from ``surrogateescape``).
UTF-8 cannot encode it; written ``ensure_ascii`` style it becomes the escape
``\\ud800``, which ``jq`` and Elasticsearch reject. Each is replaced with
U+FFFD, the replacement character.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import math
import os
import re
import uuid
from typing import Any

from django_lantern.scrubbing._cut import truncate

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
MAX_DEPTH = 8
MAX_ITEMS = 256


def strict_text(text: str) -> str:
    """``text`` with every lone surrogate replaced (a fast no-op for the usual ASCII text)."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def make_strict(value: Any, depth: int = 0) -> Any:
    """``value`` (a JSON value) with lone surrogates replaced in every string and key."""
    if isinstance(value, str):
        return strict_text(value)
    if isinstance(value, dict):
        return {strict_text(str(k)): make_strict(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [make_strict(v, depth + 1) for v in value]
    return value


def describe(value: object) -> str:
    """The ``repr``, for types with no better form; never raises."""
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def _bytes_text(value: bytes | bytearray | memoryview, limit: int) -> str:
    # Cut before decoding: a huge blob is not decoded whole to keep a few KiB.
    return bytes(value[: limit + 1]).decode("utf-8", "backslashreplace")


def to_json_value(value: Any, limit: int, depth: int = 0) -> Any:
    """A JSON-native value (None, bool, int, float, str, list, dict) for ``value``; strings capped at ``limit``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):  # before int and str: IntEnum and StrEnum are both
        return to_json_value(value.value, limit, depth + 1) if depth < MAX_DEPTH else describe(value)
    if isinstance(value, int):
        # Beyond 64 bits orjson refuses the whole line; a string keeps it.
        return int(value) if -(2**63) <= value < 2**64 else truncate(str(int(value)), limit)
    if isinstance(value, float):
        # NaN and infinities are not JSON.
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return truncate(str(value), limit)
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return truncate(str(value), limit)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return truncate(_bytes_text(value, limit), limit)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return truncate(path if isinstance(path, str) else _bytes_text(path, limit), limit)
    if depth < MAX_DEPTH and isinstance(value, dict):
        return {str(k): to_json_value(v, limit, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if depth < MAX_DEPTH and isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(v, limit, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return truncate(describe(value), limit)
