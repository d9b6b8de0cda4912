"""What both formatters share: the fields of a line, scrubbed and capped.

``_BaseFormatter.fields(record)`` builds the ordered dict a line shows;
``formatters.JsonFormatter`` and ``_text.TextFormatter`` only serialise it.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from django_lantern import scrubbing
from django_lantern.context import CONTEXT_FIELDS, LOG_RECORD_ATTRIBUTES, UNKNOWN, current
from django_lantern.logging._access_fields import access_fields, access_message
from django_lantern.logging._folding import FOLD_MARK
from django_lantern.logging._record_parts import (
    LEVEL_NAMES,
    _count_failure,
    _exception_fields,
    rfc3339,
    safe_message,
    unrenderable,
)
from django_lantern.logging._values import to_json_value
from django_lantern.logging.filters import add_context
from django_lantern.scrubbing._cut import capped, truncate

if TYPE_CHECKING:
    from django.http import HttpRequest

# Keys that are never emitted from ``extra``: Django attaches the request object
# to ``django.request`` / ``django.security`` records, and its repr leaks the
# query string; the context already says the method and path.
_NEVER_EMIT = frozenset({"request", "exc_info", "exc_text", "stack_info", "lantern_access", FOLD_MARK})

# Celery's worker puts a failed task's arguments (their repr) into the ``data``
# extra of its ``celery.app.trace`` records. Arguments are the publisher's data
# (a password, an address) with no key to mark them, so they are never shown,
# as in the task line and in Sentry's Celery events.
_TASK_ARGUMENTS = ("args", "kwargs")


def _without_task_arguments(data: object, replacement: str) -> object:
    if not isinstance(data, dict) or not any(key in data for key in _TASK_ARGUMENTS):
        return data
    return {key: replacement if key in _TASK_ARGUMENTS else value for key, value in data.items()}


# Context fields whose text comes from the client and is scrubbed.
_CLIENT_TEXT_FIELDS = frozenset({"path", "method"})

# Keys the access record carries as typed values.
ACCESS_FIELDS = ("status", "duration_ms")

DEFAULT_FIELD_LIMIT = 4096
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
        original lost (see ``scrubbing/_cut.py``)."""
        return capped(value, limit, self._scrub_text)

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
            if key not in LOG_RECORD_ATTRIBUTES and key not in _NEVER_EMIT and key not in out
        }
        if "data" in extras and record.name.startswith("celery."):
            extras["data"] = _without_task_arguments(extras["data"], scrubbing.REDACTED)
        if type(extras.get("status_code")) is int and "status" not in extras:
            # One name per field: Django's django.request / django.server records
            # call the status ``status_code``; the access record calls it ``status``.
            extras["status"] = extras.pop("status_code")
        text = self._scrub_text
        request, task_secrets = self._request_of(attrs) if self._scrub_enabled else (None, ())
        if (request is not None or task_secrets) and scrubbing.known_secrets(request, task_secrets):
            # The request's own secrets (cookie, credential headers) and a
            # task's sensitive arguments have no shape to find them by:
            # replaced wherever the line quotes them.
            def text(value: str) -> str:
                return scrubbing.redact_request_secrets(self._scrub_text(value), request, task_secrets)  # type: ignore[no-any-return]

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
        out["message"] = capped(safe_message(record), self.field_limit, text) if message is None else message
        if extras:
            fields = self._extra_fields(extras)
            out.update(
                fields if text is self._scrub_text else scrubbing.redact_request_secrets(fields, request, task_secrets)
            )
        exc = _exception_fields(record)
        if exc:
            out["exc_type"] = self._cap(exc["exc_type"])
            out["exc_message"] = capped(exc["exc_message"], self.field_limit, text)
            if attrs.get(FOLD_MARK) is not True:  # a folded access line keeps its type and message only
                out["stack"] = capped(exc["stack"], STACK_LIMIT, text)
        if record.stack_info:
            out["stack_info"] = capped(record.stack_info, STACK_LIMIT, text)
        return out

    @staticmethod
    def _request_of(attrs: dict[str, Any]) -> tuple[HttpRequest | None, tuple[str, ...]]:
        """The request a record belongs to and the current task's secrets: Django's
        ``django.request`` records carry the request; any other record written
        during a request gets the current one."""
        request = attrs.get("request")
        ctx = current.get()
        task_secrets = ctx.secrets if ctx is not None else ()
        # Duck-typed: importing django.http here would load the ORM before
        # settings, and settings files import this module.
        if hasattr(request, "COOKIES") and hasattr(request, "META"):
            return request, task_secrets
        return (ctx.request if ctx is not None else None), task_secrets

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
