"""What the server span records beyond the defaults: captured headers and your hooks.

Headers, as opentelemetry-instrumentation-django does it, from the standard variables
``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`` and ``..._RESPONSE``
(comma-separated header names, each a case-insensitive regular expression
matched against the whole name) and ``..._SANITIZE_FIELDS`` (names whose values
become ``[REDACTED]``). Each becomes ``http.request.header.<name>`` /
``http.response.header.<name>``, a list of one string, and then goes through
the scrubber like every other attribute: ``Authorization`` or ``Cookie`` is
redacted even if someone lists it. At most ``MAX_HEADERS`` headers per span,
each value cut at ``MAX_VALUE_LENGTH``.

Hooks: ``LANTERN["TRACING_REQUEST_HOOK"]`` is called as ``hook(span, request)``
right after the span starts (and is current), ``TRACING_RESPONSE_HOOK`` as
``hook(span, request, response)`` just before it ends (``response`` is None
when the view raised). Both only for recording spans. A hook that raises is
counted in ``lantern_internal_errors_total`` and logged once; the request
goes on. What a hook sets is not scrubbed: it is your code.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_lantern._caching import settings_cache
from django_lantern._errors import report_internal_error
from django_lantern.conf import LanternSettings, get_settings
from django_lantern.tracing._attributes import scrubbed

REQUEST_ENV = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"
RESPONSE_ENV = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"
SANITIZE_ENV = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"
REDACTED = "[REDACTED]"
MAX_HEADERS = 32
MAX_VALUE_LENGTH = 1024
# Django's META holds these two without the HTTP_ prefix.
_UNPREFIXED = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def _names_pattern(value: str) -> re.Pattern[str] | None:
    """One pattern for a comma-separated list; an entry that is not a valid regex is taken literally."""
    parts = []
    for name in (n.strip() for n in value.split(",")):
        if not name:
            continue
        try:
            re.compile(name)
            parts.append(f"(?:{name})")
        except re.error:
            parts.append(re.escape(name))
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


class HeaderCapture:
    """The three variables, compiled."""

    def __init__(self, raw: tuple[str, str, str]) -> None:
        self.raw = raw
        self.request = _names_pattern(raw[0])
        self.response = _names_pattern(raw[1])
        self.sanitize = _names_pattern(raw[2])

    def attributes(self, prefix: str, pattern: re.Pattern[str], headers: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for name, value in headers:
            if len(attrs) >= MAX_HEADERS:
                break
            if not isinstance(value, str) or not pattern.fullmatch(name):
                continue
            if self.sanitize is not None and self.sanitize.fullmatch(name):
                value = REDACTED
            attrs[f"{prefix}.{name}"] = [value[:MAX_VALUE_LENGTH]]
        return attrs


def header_capture() -> HeaderCapture:
    """The three variables as they are now, compiled only when one of them changed."""
    return _compiled(
        (os.environ.get(REQUEST_ENV, ""), os.environ.get(RESPONSE_ENV, ""), os.environ.get(SANITIZE_ENV, ""))
    )


@functools.lru_cache(maxsize=1)
def _compiled(raw: tuple[str, str, str]) -> HeaderCapture:
    return HeaderCapture(raw)


def request_headers(meta: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """``(lower-case-name, value)`` of each header in ``request.META``."""
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            yield key[5:].lower().replace("_", "-"), value
        elif key in _UNPREFIXED:
            yield _UNPREFIXED[key], value


# -- hooks ----------------------------------------------------------------------
Hook = Callable[..., Any]


def _resolve(key: str, value: Any) -> Hook | None:
    if value is None or callable(value):
        return value  # type: ignore[no-any-return]
    try:
        hook = import_string(value)
    except ImportError as exc:
        raise ImproperlyConfigured(f"LANTERN[{key!r}] is {value!r}, which cannot be imported: {exc}.") from exc
    if not callable(hook):
        raise ImproperlyConfigured(f"LANTERN[{key!r}] is {value!r}, which is not callable.")
    return hook  # type: ignore[no-any-return]


def resolve_hooks(cfg: LanternSettings | None = None) -> tuple[Hook | None, Hook | None]:
    """The request and response hooks; ``ImproperlyConfigured`` names a bad dotted path."""
    cfg = cfg or get_settings()
    return (
        _resolve("TRACING_REQUEST_HOOK", cfg.tracing_request_hook),
        _resolve("TRACING_RESPONSE_HOOK", cfg.tracing_response_hook),
    )


@settings_cache
def _current_hooks() -> tuple[Hook | None, Hook | None]:
    """Resolved once per settings generation, not per request."""
    return resolve_hooks()


# -- the call sites in django_lantern.tracing -----------------------------------
def _set_scrubbed(span: Any, attrs: dict[str, Any]) -> None:
    if not attrs:
        return
    cleaned = scrubbed(attrs)
    if cleaned:
        span.set_attributes(cleaned)


def _record(span: Any, prefix: str, pattern: re.Pattern[str] | None, headers: Iterable[tuple[str, Any]]) -> None:
    if pattern is not None:
        _set_scrubbed(span, header_capture().attributes(prefix, pattern, headers))


def _call(where: str, hook: Hook | None, *args: Any) -> None:
    if hook is not None:
        try:
            hook(*args)
        except Exception as exc:
            report_internal_error(where, exc)


def on_start(span: Any, request: Any) -> None:
    """Request headers, then the request hook. Never raises."""
    try:
        if not span.is_recording():
            return
        _record(span, "http.request.header", header_capture().request, request_headers(request.META))
        hook = _current_hooks()[0]
    except Exception as exc:
        report_internal_error("tracing_headers", exc)
        return
    _call("tracing_request_hook", hook, span, request)


def on_end(span: Any, request: Any, response: Any) -> None:
    """Response headers, then the response hook (``response`` is None if there is none). Never raises."""
    try:
        if not span.is_recording():
            return
        if response is not None:
            headers = ((name.lower(), value) for name, value in response.headers.items())
            _record(span, "http.response.header", header_capture().response, headers)
        hook = _current_hooks()[1]
    except Exception as exc:
        report_internal_error("tracing_headers", exc)
        return
    _call("tracing_response_hook", hook, span, request, response)
