"""Free-text and URL scrubbing: the key rules and the credential-shaped text scanner.

:class:`TextScrubber` is the half of :class:`django_lantern.scrubbing.Scrubber`
that works on strings: whether a key or query parameter name is sensitive,
and which parts of free text, query strings and URLs are secrets. The
structure walk, the request's own secrets and the configured instance live in
:mod:`django_lantern.scrubbing`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from django_lantern.scrubbing._cut import truncate
from django_lantern.scrubbing._driver import may_hold_driver_value, redact_driver_values
from django_lantern.scrubbing._patterns import (
    DEFAULT_SENSITIVE_KEYS,
    SECRET_PATTERN,
    SENSITIVE_LAST_WORDS,
    SENSITIVE_QUERY_PARAMETERS,
    TEXT_PATTERN,
    TOKEN_PATTERN,
    VALUE_PATTERN,
    last_word,
    luhn_ok,
    may_hold_secret,
    may_hold_token,
    normalise_key,
)

REDACTED = "[redacted]"
# Longer strings are cut (with a marker) before they are scanned, so one huge
# value cannot make scrubbing slow; sinks cap their fields far below this.
MAX_TEXT_LENGTH = 100_000
# The longest text whose ``leaves_unchanged`` verdict is remembered (4,096 of them at most).
_CACHED_TEXT_LENGTH = 512


class TextScrubber:
    """The string rules of :class:`~django_lantern.scrubbing.Scrubber` (see there)."""

    def __init__(
        self,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[str] = (),
        replacement: str = REDACTED,
    ) -> None:
        self.replacement = replacement
        keys = tuple(DEFAULT_SENSITIVE_KEYS) + tuple(normalise_key(k) for k in extra_keys if k)
        self._key_pattern = re.compile("|".join(re.escape(k) for k in keys))
        self._extra_patterns = tuple(re.compile(p) for p in extra_patterns)
        # Whether ``scrub_text`` is this class's own, with nothing added: then
        # ``leaves_unchanged`` can answer for it (decided once, not per line).
        self._default_text_rules = type(self).scrub_text is TextScrubber.scrub_text and not self._extra_patterns
        # Key names repeat endlessly (header and field names); remember verdicts,
        # but boundedly, since names can come from clients.
        self._key_cache: dict[str, bool] = {}
        # ``leaves_unchanged`` verdicts: the access line asks about the same few
        # method, path and address texts on every request; bounded the same way.
        self._unchanged_cache: dict[str, bool] = {}

    # -- keys ---------------------------------------------------------------
    def is_sensitive_key(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        verdict = self._key_cache.get(key)
        if verdict is None:
            verdict = self._key_pattern.search(normalise_key(key)) is not None or last_word(key) in SENSITIVE_LAST_WORDS
            if len(self._key_cache) >= 4096:
                self._key_cache.clear()
            self._key_cache[key] = verdict
        return verdict

    def is_sensitive_query_parameter(self, name: object) -> bool:
        """A sensitive key, or one of ``SENSITIVE_QUERY_PARAMETERS`` (whole name)."""
        return self.is_sensitive_key(name) or (
            isinstance(name, str) and normalise_key(name) in SENSITIVE_QUERY_PARAMETERS
        )

    # -- text ---------------------------------------------------------------
    def scrub_text(self, text: str) -> str:
        """Replace credential-shaped parts of free text."""
        if not text:
            return text
        if len(text) > MAX_TEXT_LENGTH:
            text = truncate(text, MAX_TEXT_LENGTH)
        # Database error messages quote the offending row or value: here, so
        # the exception message is clean in every sink that prints it.
        text = redact_driver_values(text, self.replacement)
        if may_hold_token(text):
            # First, so a token is replaced whole before the other rules cut
            # it ("xoxb-...@", "ghp_...:").
            text = TOKEN_PATTERN.sub(self.replacement, text)
        if may_hold_secret(text):
            text = self._scan(text, TEXT_PATTERN)
        for pattern in self._extra_patterns:
            text = pattern.sub(self.replacement, text)
        return text

    def leaves_unchanged(self, text: str) -> bool:
        """True when ``scrub_text(text)`` is known, cheaply, to return ``text`` as it is.

        False means only "scan it". For the hot path: the access record asks
        once for its method, path and address joined, instead of three scans.
        A subclass that overrides ``scrub_text`` always gets False.
        """
        cache = self._unchanged_cache
        verdict = cache.get(text)
        if verdict is not None:
            return verdict
        verdict = bool(
            self._default_text_rules
            and len(text) <= MAX_TEXT_LENGTH
            and not may_hold_secret(text)
            and not may_hold_token(text)
            and not may_hold_driver_value(text)
        )
        if len(text) <= _CACHED_TEXT_LENGTH:
            if len(cache) >= 4096:
                cache.clear()
            cache[text] = verdict
        return verdict

    def _scan(self, text: str, pattern: re.Pattern[str]) -> str:
        search = pattern.search
        match = search(text)
        if match is None:
            return text
        parts: list[str] = []
        pos = 0
        # Bounded: every iteration moves ``pos`` forward by at least one
        # character, since no alternative can match the empty string.
        while match is not None:
            parts.append(text[pos : match.start()])
            replacement, pos = self._replace(match)
            parts.append(replacement)
            match = search(text, pos)
        parts.append(text[pos:])
        return "".join(parts)

    def _replace(self, m: re.Match[str]) -> tuple[str, int]:
        """The text to emit for one match, and where scanning continues."""
        r = self.replacement
        if m.re is TEXT_PATTERN and m.start("key") >= 0:
            key = m.group("key")
            start = m.start("key")
            in_query = start > 0 and m.string[start - 1] in "?&" and m.group("sep") == "="
            if not (self.is_sensitive_query_parameter(key) if in_query else self.is_sensitive_key(key)):
                # Keep the key and separator and scan the value like any text
                # ("url=https://u:p@h", "id=4111..."); the key itself may hold a
                # token ("x.eyJ...:"), so it is scanned for secrets too.
                if may_hold_secret(key):
                    key = self._scan(key, SECRET_PATTERN)
                return key + m.group("sep"), m.end("sep")
            sep = m.group("sep")
            # A sensitive key can hold a secret of its own ("x.eyJ....sig: 1").
            if may_hold_secret(key):
                key = self._scan(key, SECRET_PATTERN)
            value_match = VALUE_PATTERN.match(m.string, m.end("sep"))
            if value_match is None:  # nothing to redact after it
                return key + sep, m.end("sep")
            value = value_match.group(0)
            quote_char = value[0] if value[0] in "\"'" else sep[0] if sep[0] in "\"'" else ""
            return f"{key}{sep}{quote_char}{r}{quote_char}", value_match.end()
        if m.start("scheme") >= 0:
            return f"{m.group('scheme')} {r}", m.end()
        if m.start("url") >= 0:
            return f"{m.group('url')}{r}@", m.end()
        if m.start("card") >= 0:
            return self._card(m)
        return r, m.end()  # pem, jwt, aws

    def _card(self, m: re.Match[str]) -> tuple[str, int]:
        """A Luhn-valid 13-19 digit run is a card. The regex is greedy, so a
        card followed by more digits ("4111 1111 1111 1111 12") is tried at each
        group boundary, and one preceded by a digit group ("5 4111 ...") is found
        by moving on one group; a run without separators is judged whole, which
        keeps long numeric ids from being taken for cards."""
        text = m.group(0)
        cuts = [len(text)] + [i for i in range(len(text) - 1, 0, -1) if text[i] in " -"]
        for cut in cuts:
            digits = text[:cut].replace(" ", "").replace("-", "")
            if 13 <= len(digits) <= 19 and luhn_ok(digits):
                return self.replacement, m.start() + cut
        first_sep = next((i for i, ch in enumerate(text) if ch in " -"), -1)
        if first_sep < 0:
            return text, m.end()
        return text[: first_sep + 1], m.start() + first_sep + 1

    def scrub_query_string(self, query: str) -> str:
        """``a=1&token=x`` -> ``a=1&token=[redacted]``, by parameter name."""
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        cleaned = [
            (self.scrub_text(k), self.replacement if self.is_sensitive_query_parameter(k) else self.scrub_text(v))
            for k, v in pairs
        ]
        # Brackets are left readable so the marker stays recognisable.
        return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='[]/:')}" for k, v in cleaned)

    def scrub_url(self, url: str) -> str:
        """A URL with its user-info removed and its query scrubbed by parameter name."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.scrub_text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{self.replacement}@{netloc.rpartition('@')[2]}"
        return self.scrub_text(
            urlunsplit((parts.scheme, netloc, parts.path, self.scrub_query_string(parts.query), parts.fragment))
        )
