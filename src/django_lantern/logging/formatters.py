"""JSON-lines and key=value text formatters.

Both are hardened the same way: a record whose message cannot be formatted
still yields one valid line; an ``extra`` value that cannot be rendered
replaces only its own field (the message and the request id stay); raw
arguments are never printed; every field has a length cap with a visible
marker; Django's ``request`` object is never stringified (its ``str()``
carries the query string). Each such failure counts in
``lantern_log_errors_total``, as a failed write does.

``fields(record)`` builds the ordered dict of what a line shows (scrubbed,
capped, JSON-native values); the formatters only serialise it, so a schema
(ECS, GCP, ...) is a subclass that renames and reshapes that dict.
JSON lines are strict: valid UTF-8, no lone surrogates (``values.py``).
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

from django_lantern import scrubbing
from django_lantern.context import CONTEXT_FIELDS, UNKNOWN, get_request_id
from django_lantern.logging._access_fields import access_fields, access_message
from django_lantern.logging._escape import TRUNCATION_MARKER, truncate
from django_lantern.logging._record_parts import LEVEL_NAMES, _exception_fields
from django_lantern.logging._record_parts import _count_failure as _count_failure  # importable here as before
from django_lantern.logging._record_parts import rfc3339 as rfc3339
from django_lantern.logging._record_parts import safe_message as safe_message
from django_lantern.logging._record_parts import unrenderable as unrenderable
from django_lantern.logging._values import describe, make_strict, strict_text, to_json_value
from django_lantern.logging.filters import add_context

try:  # orjson is optional: several times faster than json, same output shape.
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised when orjson is absent
    _orjson = None  # type: ignore[assignment]

import json

# Attributes every LogRecord has; anything else on a record came from ``extra``
# (or from a filter) and is emitted as its own key.
_RECORD_ATTRS = frozenset(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Keys that are never emitted from ``extra``: Django attaches the request object
# to ``django.request`` / ``django.security`` records, and its repr leaks the
# query string; the context already says the method and path.
_NEVER_EMIT = frozenset({"request", "exc_info", "exc_text", "stack_info", "lantern_access"})

# Context fields whose text comes from the client and is scrubbed.
_CLIENT_TEXT_FIELDS = frozenset({"path", "method"})

# Keys the access record carries as typed values.
ACCESS_FIELDS = ("status", "duration_ms")

DEFAULT_FIELD_LIMIT = 4096
SCRUB_MARGIN = 4096
STACK_LIMIT = 32768


class _BaseFormatter(logging.Formatter):
    """Shared by both formatters: context, extras, exceptions, scrubbing hook."""

    def __init__(
        self,
        *args: Any,
        field_limit: int = DEFAULT_FIELD_LIMIT,
        scrub: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.field_limit = field_limit
        self._scrub_enabled = scrub

    def active_scrubber(self) -> scrubbing.Scrubber | None:
        """The scrubber this formatter applies, or None when scrubbing is off."""
        return scrubbing._configured_or_default() if self._scrub_enabled else None

    def _scrub(self, value: Any) -> Any:
        if not self._scrub_enabled:
            return value
        # Looked up per record (the configured scrubber is cached in
        # ``scrubbing`` and rebuilt when settings change), so a formatter built
        # before settings load still picks up SCRUB_EXTRA_* later.
        return scrubbing.scrub(value)

    def _scrub_text(self, value: str) -> str:
        if not self._scrub_enabled:
            return value
        return scrubbing.scrub_text(value)

    def _scrub_capped(self, value: str, limit: int) -> str:
        """Scrubbed and cut to ``limit`` with the marker counting what the
        original lost. Text past ``limit`` plus a margin is dropped *before*
        scrubbing: the line never shows it, and it bounds the scan of a huge
        client-supplied value; the margin keeps a secret that straddles the cap
        whole, so the scanner still recognises it."""
        cut = limit + SCRUB_MARGIN
        if len(value) <= cut:
            return truncate(self._scrub_text(value), limit)
        return self._scrub_text(value[:cut])[:limit] + TRUNCATION_MARKER % (len(value) - limit)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """Everything a line shows, in order, already scrubbed and capped."""
        fast = access_fields(self, record)  # the access record as the middleware built it
        if fast is not None:
            return fast
        if "request_id" not in record.__dict__:
            add_context(record)
        attrs = record.__dict__
        out: dict[str, Any] = {
            "ts": rfc3339(record.created),
            "level": LEVEL_NAMES.get(record.levelno, record.levelname.lower()),
            "logger": record.name,
            "message": "",  # filled in below, once the path is scrubbed
        }
        for name in CONTEXT_FIELDS:
            out[name] = self._context_value(name, attrs.get(name, UNKNOWN))
        extras = {
            key: value
            for key, value in attrs.items()
            if key not in _RECORD_ATTRS and key not in _NEVER_EMIT and key not in out
        }
        if type(extras.get("status_code")) is int and "status" not in extras:
            # One name per field: Django's django.request / django.server records
            # call the status ``status_code``; the access record calls it ``status``.
            extras["status"] = extras.pop("status_code")
        message = None
        if attrs.get("lantern_access") is True:
            # Set by the middleware as plain numbers: nothing to scrub.
            for key in ACCESS_FIELDS:
                value = extras.get(key)
                if type(value) is int or type(value) is float:
                    out[key] = extras.pop(key) if math.isfinite(value) else None
            # Rendered again from the scrubbed path and the typed fields rather
            # than scanning the whole message: same result, a third of the cost.
            message = access_message(out, self.field_limit)
        out["message"] = self._scrub_capped(safe_message(record), self.field_limit) if message is None else message
        if extras:
            out.update(self._extra_fields(extras))
        exc = _exception_fields(record)
        if exc:
            out["exc_type"] = self._cap(exc["exc_type"])
            out["exc_message"] = self._scrub_capped(exc["exc_message"], self.field_limit)
            out["stack"] = self._scrub_capped(exc["stack"], STACK_LIMIT)
        if record.stack_info:
            out["stack_info"] = self._scrub_capped(record.stack_info, STACK_LIMIT)
        return out

    def _context_value(self, name: str, value: object) -> Any:
        if value is None:
            return UNKNOWN
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self._jsonable(value)
        if name in _CLIENT_TEXT_FIELDS:
            # The path comes from the client ("/reset/<token>/"), so it is
            # scrubbed like the message; ids are validated, not scrubbed.
            return self._scrub_capped(value if isinstance(value, str) else str(value), self.field_limit)
        return self._cap(value)

    def _extra_fields(self, extras: dict[str, Any]) -> dict[str, Any]:
        """The ``extra`` keys as JSON values, scrubbed. Converted first, so the
        scrubber sees an ISO date rather than a ``repr``; one value that cannot
        be rendered or scrubbed replaces only its own field."""
        try:
            return {str(key): value for key, value in self._scrub(self._jsonable(extras)).items()}
        except Exception:
            pass  # find the culprit: one key at a time
        out: dict[str, Any] = {}
        for key, value in extras.items():
            name = key if isinstance(key, str) else unrenderable(key)
            try:
                converted = self._jsonable(value)
            except Exception as error:
                _count_failure("log_field", error)
                out[name] = unrenderable(value)
                continue
            try:
                out.update(self._scrub({name: converted}))
            except Exception as error:
                # Dropping the value is better than emitting it unscrubbed.
                _count_failure("scrub:log", error)
                out[name] = unrenderable(value)
        return out

    def _cap(self, value: object) -> str:
        text = value if isinstance(value, str) else str(value)
        return truncate(text, self.field_limit)

    def _jsonable(self, value: Any) -> Any:
        """Plain JSON types only (see ``values.to_json_value``)."""
        return to_json_value(value, self.field_limit)


class JsonFormatter(_BaseFormatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the
    context keys, then the record's ``extra`` keys; exceptions become
    ``exc_type``, ``exc_message`` and ``stack``. Uses orjson when installed.

    ``user_id`` is the id or ``null``, never ``"-"``: a field that is a
    number on one line and a string on the next breaks index mappings.
    """

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        out = super().fields(record)
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
        return self.fields(record)

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


# The text formatter lives in its own module; importable from here as before.
from django_lantern.logging._text import TextFormatter  # noqa: E402

__all__ = ["JsonFormatter", "TextFormatter"]
