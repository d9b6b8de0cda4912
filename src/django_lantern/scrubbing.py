"""The one scrubber used by every sink: log lines, the access log, error
events, span attributes and health output.

Modelled on Django's ``SafeExceptionReporterFilter`` (a substitute string and
a case-insensitive key pattern, recursing through containers), but matching
key *substrings* (``password1``, ``new_password``, ``X-Auth-Token``), scanning
free text for credential-shaped values, and bounded in depth and size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "[redacted]"
MAX_DEPTH = 10
MAX_ITEMS = 512

# Substrings of key names whose values are secret, compared case-insensitively
# after dropping "-", "_" and spaces ("X-Api-Key" -> "xapikey"). Short
# fragments such as "pin", "otp" or "ssn" are left out on purpose: as
# substrings they match "shipping", "footprint" and "classname".
DEFAULT_SENSITIVE_KEYS = (
    "password", "passwd", "pwd", "secret", "token", "apikey", "accesskey",
    "authorization", "cookie", "session", "csrf", "xsrf", "cardnumber",
    "creditcard", "ccnumber", "cvv", "cvc", "privatekey", "signature",
    "socialsecurity", "credential", "dsn",
)

# Credential-shaped text, wherever it appears.
_VALUE_PATTERNS: tuple[tuple[str, str], ...] = (
    # "Bearer abc", "Basic dXNlcjpwYXNz", "Token abc"
    ("auth_scheme", r"(?i:\b(bearer|basic|token|digest)\s+)[A-Za-z0-9._~+/=\-]{6,}"),
    # JSON Web Tokens: three base64url parts, the first two starting with "eyJ"
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
    # AWS access key ids
    ("aws_key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
    # PEM blocks (private keys, certificates)
    ("pem", r"-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)"),
    # credentials inside URLs: scheme://user:password@host
    ("url_credentials", r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@:]+:[^\s/@]+@"),
    # key=value / key: value pairs whose key looks secret
    (
        "secret_pair",
        r"\b([A-Za-z0-9_\-]*(?i:password|passwd|secret|token|api[_\-]?key|"
        r"authorization|cookie|session(?:id)?|csrf[A-Za-z_]*|cvv|card[_\-]?number)[A-Za-z0-9_\-]*)"
        r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;\"']+)",
    ),
    # payment card numbers: 13-19 digits, optionally grouped by spaces or dashes
    ("card", r"\b(?:\d[ \-]?){12,18}\d\b"),
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _normalise_key(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "").replace(" ", "")


class Scrubber:
    """Removes secrets from values of any shape.

    ``scrub(value)`` returns a scrubbed copy: mappings have sensitive keys'
    values replaced; every string is scanned for credential-shaped text;
    lists, tuples and sets are walked; depth and size are bounded (what lies
    beyond the bound is replaced, not passed through).
    """

    def __init__(
        self,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[str] = (),
        replacement: str = REDACTED,
    ) -> None:
        self.replacement = replacement
        keys = tuple(DEFAULT_SENSITIVE_KEYS) + tuple(_normalise_key(k) for k in extra_keys)
        self._key_pattern = re.compile("|".join(re.escape(k) for k in keys))
        patterns = [p for _, p in _VALUE_PATTERNS] + list(extra_patterns)
        self._text_pattern = re.compile("|".join(f"(?:{p})" for p in patterns))
        self._extra_patterns = tuple(re.compile(p) for p in extra_patterns)

    # -- keys ---------------------------------------------------------------
    def is_sensitive_key(self, key: object) -> bool:
        return isinstance(key, str) and self._key_pattern.search(_normalise_key(key)) is not None

    # -- text ---------------------------------------------------------------
    def scrub_text(self, text: str) -> str:
        """Replace credential-shaped parts of free text."""
        if not text or self._text_pattern.search(text) is None:
            return text
        for name, pattern in _COMPILED_VALUE_PATTERNS:
            text = pattern.sub(_REPLACERS[name], text)
        for pattern in self._extra_patterns:
            text = pattern.sub(self.replacement, text)
        return text

    def scrub_query_string(self, query: str) -> str:
        """``a=1&token=x`` -> ``a=1&token=[redacted]``, by parameter name."""
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        cleaned = [(k, self.replacement if self.is_sensitive_key(k) else self.scrub_text(v)) for k, v in pairs]
        return urlencode(cleaned, safe="[]")

    # -- structures ---------------------------------------------------------
    def scrub(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if depth >= MAX_DEPTH:
            return self.replacement
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for i, (key, item) in enumerate(value.items()):
                if i >= MAX_ITEMS:
                    out["lantern_truncated_items"] = len(value) - MAX_ITEMS
                    break
                out[key] = self.replacement if self.is_sensitive_key(key) else self.scrub(item, depth + 1)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            items = list(value)
            scrubbed = [self.scrub(v, depth + 1) for v in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                scrubbed.append(f"[{len(items) - MAX_ITEMS} more items]")
            return scrubbed if isinstance(value, list) else tuple(scrubbed)
        if isinstance(value, bytes):
            return self.scrub_text(value.decode("utf-8", "replace"))
        return value


_COMPILED_VALUE_PATTERNS = tuple((name, re.compile(p)) for name, p in _VALUE_PATTERNS)


def _replace_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return REDACTED
    return match.group(0)


_REPLACERS: dict[str, Any] = {
    "auth_scheme": lambda m: f"{m.group(1)} {REDACTED}",
    "jwt": REDACTED,
    "aws_key": REDACTED,
    "pem": REDACTED,
    "url_credentials": lambda m: f"{m.group(1)}{REDACTED}@",
    "secret_pair": lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}",
    "card": _replace_card,
}

_default: Scrubber | None = None


def get_scrubber() -> Scrubber:
    """The scrubber configured by ``LANTERN`` (built once, rebuilt on settings change)."""
    global _default
    if _default is None:
        from django.utils.module_loading import import_string

        from django_lantern.conf import get_settings

        cfg = get_settings()
        cls = import_string(cfg.scrubber_class)
        _default = cls(extra_keys=cfg.scrub_extra_keys, extra_patterns=cfg.scrub_extra_patterns)
    return _default


def scrub_text(text: str) -> str:
    """Scrub free text with the configured scrubber (the defaults before settings load)."""
    try:
        scrubber = get_scrubber()
    except Exception:
        scrubber = _fallback()
    return scrubber.scrub_text(text)


_fallback_instance: Scrubber | None = None


def _fallback() -> Scrubber:
    global _fallback_instance
    if _fallback_instance is None:
        _fallback_instance = Scrubber()
    return _fallback_instance


def _reset() -> None:
    global _default
    _default = None


from django_lantern import _reset_hooks  # noqa: E402

_reset_hooks.append(_reset)
