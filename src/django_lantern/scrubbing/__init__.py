"""The one scrubber used by every sink: log lines, the access log, error
events, span attributes and health output.

Modelled on Django's ``SafeExceptionReporterFilter`` (a substitute string and
a case-insensitive key pattern, recursing through containers), but matching
key *substrings* (``password1``, ``new_password``, ``X-Auth-Token``), scanning
free text for credential-shaped values, and bounded in depth and size.

This package imports nothing that logs or reports: every sink calls it, so
a scrubber that logged could recurse into itself. A sink that must not leak
drops a value the scrubber raised on (``tracing._attributes.scrub_or_drop``).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_lantern._caching import settings_cache
from django_lantern.conf import get_settings
from django_lantern.scrubbing._paths import redact_path
from django_lantern.scrubbing._patterns import normalise_key
from django_lantern.scrubbing._scanner import MAX_TEXT_LENGTH, REDACTED, TextScrubber

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["REDACTED", "Scrubber", "get_scrubber"]

MAX_DEPTH = 16
MAX_ITEMS = 512
DEPTH_MARKER = "[lantern: nested too deep]"
MIN_KNOWN_SECRET_LENGTH = 6
# WSGI environ keys that hold the request line's raw target, query string and
# all: gunicorn's RAW_URI, and REQUEST_URI (uWSGI, mod_wsgi, CGI servers).
# Scrubbed like a URL wherever the environ is shown, as QUERY_STRING is.
RAW_TARGET_ENVIRON_KEYS = ("RAW_URI", "REQUEST_URI")


class Scrubber(TextScrubber):
    """Removes secrets from values of any shape.

    ``scrub(value)`` returns a scrubbed copy made of plain JSON-like types:
    mappings have sensitive keys' values replaced; every string is scanned for
    credential-shaped text; lists, tuples and sets are walked; depth, item
    count and string length are bounded (what lies beyond a bound is replaced
    by a marker, never passed through); any other object becomes its scrubbed
    ``repr``, because that is what a sink would otherwise print.

    Subclass it and name the subclass in ``LANTERN["SCRUBBER_CLASS"]`` to
    change the policy; the constructor receives the two ``SCRUB_EXTRA_*``
    settings as keyword arguments.

    The key and free-text rules (``is_sensitive_key``, ``scrub_text``,
    ``scrub_url``, ...) come from :class:`~django_lantern.scrubbing._scanner.TextScrubber`.
    """

    def scrub(self, value: Any, _depth: int = 0) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if _depth >= MAX_DEPTH:
            return DEPTH_MARKER
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for i, (key, item) in enumerate(value.items()):
                if i >= MAX_ITEMS:
                    out["lantern_truncated_items"] = len(value) - MAX_ITEMS
                    break
                if self.is_sensitive_key(key):
                    out[self.scrub_text(key)] = self.replacement
                else:
                    out[self.scrub_text(key) if isinstance(key, str) else key] = self.scrub(item, _depth + 1)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            items = list(value)
            scrubbed = [self.scrub(v, _depth + 1) for v in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                scrubbed.append(f"[{len(items) - MAX_ITEMS} more items]")
            return scrubbed if isinstance(value, list) else tuple(scrubbed)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.scrub_text(bytes(value[: MAX_TEXT_LENGTH + 1]).decode("utf-8", "replace"))
        return self.scrub_text(_text_of(value))

    def scrub_post_data(self, data: Any, sensitive: object) -> Any:
        """``scrub(data)`` after applying Django's ``request.sensitive_post_parameters``."""
        if isinstance(data, Mapping) and sensitive:
            if sensitive == "__ALL__":
                data = dict.fromkeys(data, self.replacement)
            elif isinstance(sensitive, (list, tuple, set, frozenset)):
                data = {k: self.replacement if k in sensitive else v for k, v in data.items()}
        return self.scrub(data)

    def redact_known(self, value: Any, secrets: tuple[str, ...], _depth: int = 0) -> Any:
        """Replace every occurrence of the exact strings in ``secrets``, anywhere.

        For values the request itself marked as secret (its cookies, its
        credential headers, sensitive form and query fields): they can resurface
        where no key or pattern gives them away, such as SQL parameters.
        """
        if not secrets:
            return value
        if isinstance(value, str):
            for secret in secrets:
                if secret in value:
                    value = value.replace(secret, self.replacement)
            return value
        if _depth >= MAX_DEPTH:
            return value
        if isinstance(value, dict):
            return {self.redact_known(k, secrets): self.redact_known(v, secrets, _depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_known(v, secrets, _depth + 1) for v in value]
        if isinstance(value, tuple):
            return tuple(self.redact_known(v, secrets, _depth + 1) for v in value)
        return value

    def request_secrets(self, request: HttpRequest) -> tuple[str, ...]:
        """The values ``request`` carries under sensitive names, longest first.

        Cookies (all of them: any may be a session), headers whose name is
        sensitive (and the credential after an auth scheme), query parameters,
        the URL parameters ``redacted_path`` took out of the path and, once
        the view has parsed it, form fields with sensitive names or named by
        ``sensitive_post_parameters``. Never reads the body itself.
        Values shorter than ``MIN_KNOWN_SECRET_LENGTH`` are left to the key
        and pattern rules: replacing "1" or "737" everywhere would garble events.
        """
        found: set[str] = set()

        def add(value: object) -> None:
            if isinstance(value, str) and len(value) >= MIN_KNOWN_SECRET_LENGTH:
                found.add(value)

        for cookie in getattr(request, "COOKIES", {}).values():
            add(cookie)
        for key, value in getattr(request, "META", {}).items():
            if key.startswith("HTTP_") and key != "HTTP_COOKIE" and self.is_sensitive_key(key[5:]):
                add(value)
                if isinstance(value, str) and " " in value:
                    add(value.split(" ", 1)[1].strip())
        redacted = noted_path(request)
        if redacted is not None:
            for value in redacted.values:
                add(value)
        query = getattr(request, "GET", None)
        if query is not None:
            for key in query:
                if self.is_sensitive_query_parameter(key):
                    for item in query.getlist(key):
                        add(item)
        form = request.__dict__.get("_post") if hasattr(request, "__dict__") else None
        if form is not None:
            marked = getattr(request, "sensitive_post_parameters", None) or ()
            for key in form:
                if marked == "__ALL__" or key in marked or self.is_sensitive_key(key):
                    for item in form.getlist(key):
                        add(item)
        return tuple(sorted(found, key=len, reverse=True))


def _text_of(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def build_scrubber() -> Scrubber:
    """A new scrubber from ``LANTERN`` (``SCRUBBER_CLASS``, ``SCRUB_EXTRA_*``)."""
    cfg = get_settings()
    try:
        cls = import_string(cfg.scrubber_class)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"LANTERN['SCRUBBER_CLASS'] is {cfg.scrubber_class!r}, which cannot be imported ({exc}); "
            "name a Scrubber subclass by its dotted path, e.g. 'django_lantern.scrubbing.Scrubber'."
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Scrubber)):
        # Checked before calling it: another class fails in its constructor
        # with a TypeError that names neither the setting nor the fix.
        raise ImproperlyConfigured(
            f"LANTERN['SCRUBBER_CLASS'] is {cfg.scrubber_class!r}, which is not a subclass of "
            "django_lantern.scrubbing.Scrubber; subclass it so every sink can call it."
        )
    try:
        scrubber: Scrubber = cls(extra_keys=cfg.scrub_extra_keys, extra_patterns=cfg.scrub_extra_patterns)
    except re.error as exc:
        raise ImproperlyConfigured(
            f"LANTERN['SCRUB_EXTRA_PATTERNS'] holds an invalid regular expression ({exc}): "
            f"{cfg.scrub_extra_patterns!r}."
        ) from exc
    return scrubber


@settings_cache
def get_scrubber() -> Scrubber:
    """The scrubber configured by ``LANTERN`` (built once, rebuilt on settings change)."""
    return build_scrubber()


@functools.cache
def _fallback() -> Scrubber:
    """The default scrubber, for when ``LANTERN`` cannot be read: it depends on no setting."""
    return Scrubber()


def _configured_or_default() -> Scrubber:
    try:
        return get_scrubber()
    except Exception:
        # Settings not configured yet (a record logged while Django starts), or
        # invalid (reported by lantern.E003): the defaults rather than nothing.
        return _fallback()


def scrub_text(text: str) -> str:
    """Scrub free text with the configured scrubber (the defaults before settings load)."""
    return _configured_or_default().scrub_text(text)


def scrub(value: Any) -> Any:
    """Scrub any value with the configured scrubber (the defaults before settings load)."""
    return _configured_or_default().scrub(value)


def request_secrets(request: HttpRequest) -> tuple[str, ...]:
    """``Scrubber.request_secrets`` of the configured scrubber, cached on the request.

    Recomputed once the URL is resolved and once the form has been parsed,
    since both add values.
    """
    attributes = getattr(request, "__dict__", {})
    parsed = ("_post" in attributes, REDACTED_PATH_ATTRIBUTE in attributes)
    cached = getattr(request, "_lantern_secrets", None)
    if cached is not None and cached[0] == parsed:
        return cached[1]  # type: ignore[no-any-return]
    secrets = _configured_or_default().request_secrets(request)
    with contextlib.suppress(AttributeError):
        request._lantern_secrets = (parsed, secrets)  # type: ignore[attr-defined]
    return secrets


def known_secrets(request: HttpRequest | None, task_secrets: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The exact values to replace while ``request`` (or a task) is current, longest first:
    ``request_secrets(request)`` and the running task's ``task_secrets`` (``argument_secrets``)."""
    secrets = request_secrets(request) if request is not None else ()
    if not task_secrets:
        return secrets
    if not secrets:
        return task_secrets
    return tuple(sorted({*secrets, *task_secrets}, key=len, reverse=True))


def redact_request_secrets(value: Any, request: HttpRequest | None, task_secrets: tuple[str, ...] = ()) -> Any:
    """``value`` with the current request's or task's own secret values (``known_secrets``) replaced.

    The one call every sink makes for the request or task that is current
    while it writes (log lines, span events, Sentry, error reports): a session
    cookie, an API key or a task's ``new_password`` argument quoted in an
    exception message has neither a key nor a shape that gives it away. The
    caller passes the current request and the context's ``secrets``
    (``context.current``): this package imports nothing that logs, and the
    context module does. Costs a cached lookup and one substring test per
    secret; nothing without a request or task secrets.
    """
    secrets = known_secrets(request, task_secrets)
    if not secrets:
        return value
    return _configured_or_default().redact_known(value, secrets)


_MAX_ARGUMENTS = 64


def argument_secrets(func: Any, args: Any, kwargs: Any) -> tuple[str, ...]:
    """The values a call passes under sensitive parameter names, longest first.

    For a task run: ``reset_password(user_id, new_password)`` called with
    ``(7, "hunter22")`` gives ``("hunter22",)``, since the parameter is named
    ``new_password``; keyword arguments are matched by their own names, and a
    dictionary argument by its keys. Values shorter than
    ``MIN_KNOWN_SECRET_LENGTH`` are left to the key and pattern rules, as for
    a request. Never raises: a call that does not fit the signature gives what
    its keyword arguments give.
    """
    import inspect

    scrubber = _configured_or_default()
    named: dict[str, Any] = {}
    try:
        named.update(inspect.signature(func).bind_partial(*args, **kwargs).arguments)
    except Exception:
        if isinstance(kwargs, Mapping):
            named.update(kwargs)
    found: set[str] = set()
    for name, value in list(named.items())[:_MAX_ARGUMENTS]:
        pairs = value.items() if isinstance(value, Mapping) and not scrubber.is_sensitive_key(name) else [(name, value)]
        for key, item in list(pairs)[:_MAX_ARGUMENTS]:
            if isinstance(item, str) and len(item) >= MIN_KNOWN_SECRET_LENGTH and scrubber.is_sensitive_key(key):
                found.add(item)
    return tuple(sorted(found, key=len, reverse=True))


# Where the middleware keeps a request's ``RedactedPath`` once its URL is resolved.
REDACTED_PATH_ATTRIBUTE = "_lantern_redacted_path"
_MAX_REMEMBERED_ROUTES = 4096


class RedactedPath(NamedTuple):
    """The path as sinks show it, and the parameter values taken out of it."""

    path: str
    values: tuple[str, ...]


class _PathRule:
    """Which URL parameter names are redacted: ``REDACT_PATH_KWARGS`` and sensitive keys.

    Verdicts are remembered per set of parameter names (one per route), so a
    resolved request pays one dictionary lookup.
    """

    def __init__(self, names: frozenset[str], scrubber: Scrubber) -> None:
        self._names = frozenset(normalise_key(n) for n in names)
        self._scrubber = scrubber
        self._verdicts: dict[tuple[str, ...], tuple[str, ...]] = {}

    def redacted_names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        verdict = self._verdicts.get(names)
        if verdict is None:
            verdict = tuple(
                n for n in names if normalise_key(n) in self._names or self._scrubber.is_sensitive_query_parameter(n)
            )
            if len(self._verdicts) >= _MAX_REMEMBERED_ROUTES:
                self._verdicts.clear()
            self._verdicts[names] = verdict
        return verdict


@settings_cache
def _path_rule() -> _PathRule:
    return _PathRule(get_settings().redact_path_kwargs, get_scrubber())


def redacted_path(request: HttpRequest) -> RedactedPath | None:
    """``request.path`` with the URL parameters named by ``REDACT_PATH_KWARGS``
    (or with a sensitive name) replaced, from the resolved match; None when
    the route has no such parameter (or is not resolved yet).

    ``/accounts/reset/MQ/c4h1v7-0f5c.../`` becomes
    ``/accounts/reset/[redacted]/[redacted]/``. The middleware calls this once,
    when the URL is resolved; every sink then shows the result.
    """
    match = getattr(request, "resolver_match", None)
    kwargs = getattr(match, "kwargs", None)
    if not kwargs:
        return None
    names = _path_rule().redacted_names(tuple(kwargs))
    if not names:
        return None
    replacement = _configured_or_default().replacement
    path = redact_path(request.path, request.path_info, match.route or "", kwargs, names, replacement)  # type: ignore[union-attr]
    return RedactedPath(path, tuple(str(kwargs[name]) for name in names))


def noted_path(request: HttpRequest | None) -> RedactedPath | None:
    """The ``RedactedPath`` the middleware noted on ``request`` at URL resolution, if any."""
    return getattr(request, "__dict__", {}).get(REDACTED_PATH_ATTRIBUTE) if request is not None else None


def replace_url_path(url: str, path: str) -> str:
    """``url`` with its path replaced by ``path`` (a redacted one), query and all else kept."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))
