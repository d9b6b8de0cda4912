"""JSON-lines and key=value text formatters.

Both are hardened the same way: a record whose message cannot be formatted
still yields one valid line; an ``extra`` value that cannot be rendered
replaces only its own field (the message and the request id stay); raw
arguments are never printed; every field has a length cap with a visible
marker; Django's ``request`` object is never stringified (its ``str()``
carries the query string). Each such failure counts in
``lantern_log_errors_total``, as a failed write does.

``fields(record)`` (``_base.py``) builds the ordered dict of what a line
shows (scrubbed, capped, JSON-native values); the formatters only serialise
it, so a schema (ECS, GCP, ...) is a subclass that renames and reshapes that
dict. JSON lines are strict: valid UTF-8, no lone surrogates (``_values.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from django_lantern._release import identity
from django_lantern.context import UNKNOWN, get_request_id

# Exported: logging/_access_fields.py annotates with it from here.
from django_lantern.logging._base import _BaseFormatter
from django_lantern.logging._record_parts import LEVEL_NAMES, _count_failure, rfc3339, safe_message, unrenderable
from django_lantern.logging._text import TextFormatter
from django_lantern.logging._values import describe, make_strict, strict_text
from django_lantern.scrubbing._cut import truncate

try:  # orjson is optional: several times faster than json, same output shape.
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised when orjson is absent
    _orjson = None  # type: ignore[assignment]

__all__ = ["JsonFormatter", "TextFormatter"]


class JsonFormatter(_BaseFormatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the
    context keys, then the record's ``extra`` keys; exceptions become
    ``exc_type``, ``exc_message`` and ``stack``. Uses orjson when installed.

    ``user_id`` is the id or ``null``, never ``"-"``: a field that is a
    number on one line and a string on the next breaks index mappings.
    """

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        # Named rather than ``super()``, which builds a proxy object on every line.
        return self.json_fields(_BaseFormatter.fields(self, record))

    @staticmethod
    def json_fields(out: dict[str, Any]) -> dict[str, Any]:
        """The fields as this format shows them: ``user_id`` null when unknown."""
        if out.get("user_id") == UNKNOWN:
            out["user_id"] = None
        return out

    def format(self, record: logging.LogRecord) -> str:
        try:
            payload = self.payload(record)
        except Exception as exc:  # never let one record break the handler
            _count_failure("log_format", exc)
            payload = self.fallback_payload(record, exc)
        return self.serialise(payload)

    # Hooks for the vendor schemas (``logging/schemas/``): they rename and
    # regroup these same fields, so every hardening above applies to them too.
    def payload(self, record: logging.LogRecord) -> dict[str, Any]:
        """The object one record becomes."""
        return self.with_release(self.fields(record), record)

    @staticmethod
    def with_release(fields: dict[str, Any], record: logging.LogRecord) -> dict[str, Any]:
        """The default schema's ``release``: on access lines and lines at ERROR and above
        only, where a deploy is what one asks about; every other line stays lean."""
        if record.levelno >= logging.ERROR or record.__dict__.get("lantern_access") is True:
            JsonFormatter.add_release(fields)
        return fields

    @staticmethod
    def add_release(fields: dict[str, Any]) -> dict[str, Any]:
        """``release`` added, as every access line has it."""
        fields.setdefault("release", identity().release)
        return fields

    def fallback_payload(self, record: logging.LogRecord, exc: BaseException) -> dict[str, Any]:
        """The object written instead when ``payload`` failed: what is left of the
        record (time, level, logger, message, request id) and the type of the failure."""
        out: dict[str, Any] = {
            "ts": rfc3339(record.created),
            "level": LEVEL_NAMES.get(record.levelno, "error"),
            "logger": truncate(str(record.name), 200),
            "message": "a log record could not be formatted",
            "request_id": UNKNOWN,
        }
        with contextlib.suppress(Exception):
            out["message"] = self._scrub_capped(safe_message(record), self.field_limit)
        with contextlib.suppress(Exception):
            rid = record.__dict__.get("request_id")
            out["request_id"] = self._cap(rid) if isinstance(rid, str) else get_request_id()
        out["lantern_format_error"] = type(exc).__qualname__
        return out

    def serialise(self, payload: dict[str, Any]) -> str:
        """One strict JSON line: valid UTF-8, no lone surrogates. A field that
        still fails to serialise is replaced, alone."""
        try:
            line = _dumps(payload)
            if line.isascii() or not _has_surrogate(line):
                return line
        except Exception:
            pass
        strict = make_strict(payload)
        try:
            return _dumps(strict)
        except Exception as exc:
            _count_failure("log_serialise", exc)
        safe: dict[str, Any] = {}
        for key, value in strict.items():
            try:
                _dumps({key: value})
                safe[key] = value
            except Exception:
                safe[key] = unrenderable(value)
        return _dumps(safe)


def _has_surrogate(line: str) -> bool:
    return strict_text(line) != line


def _dumps(payload: dict[str, Any]) -> str:
    # orjson is strict by construction: it refuses a lone surrogate (the caller
    # then repairs the payload) rather than write an invalid line.
    if _orjson is not None:
        return _orjson.dumps(payload, default=describe).decode()
    return json.dumps(payload, default=describe, ensure_ascii=False, separators=(",", ":"))
