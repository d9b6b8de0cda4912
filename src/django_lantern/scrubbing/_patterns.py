"""What a secret looks like: the patterns the scrubber matches keys and text against.

Kept apart from ``scrubbing`` (which walks containers, applies these and is
configured from settings) so the patterns can be read and reviewed on their own.
"""

from __future__ import annotations

import re
import unicodedata

# Substrings of key names whose values are secret, compared after NFKC
# case-folding and dropping "-", "_", "." and spaces ("X-Api-Key" -> "xapikey").
# Short fragments such as "pin", "otp", "key" or "ssn" are left out on purpose:
# as substrings they match "shipping", "footprint", "cache_key" and "classname".
DEFAULT_SENSITIVE_KEYS = (
    "password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "accesskey",
    "authorization", "bearer", "jwt", "cookie", "session", "csrf", "xsrf", "cardnumber",
    "creditcard", "ccnumber", "cardno", "cvv", "cvc", "securitycode", "privatekey",
    "signature", "socialsecurity", "credential", "dsn",
)  # fmt: skip

# Query parameters that carry credentials under names too short or too common
# to be key fragments ("code" would match "zipcode"), matched whole (after
# normalisation) and only as query parameters: in query strings and URLs, and
# after "?" or "&" in free text (a request's repr, a Referer). Reviewed against
# OAuth 2.0 and PKCE (code, code_verifier, device_code, user_code, assertion,
# client_assertion; *_token and client_secret are already keys), OpenID Connect
# (id_token, id_token_hint: keys), SAML (SAMLResponse, SAMLRequest, SAMLart;
# Signature: a key), CAS (ticket), signed URLs (AWS X-Amz-Signature,
# -Credential and -Security-Token, GCS X-Goog-Signature, CloudFront Signature:
# keys; Azure SAS sig, Shopify hmac) and one-time links (key, otp, pin,
# passcode, auth). "state" and "nonce" are left readable: they bind a flow to
# a session but grant nothing, and "state" is an everyday filter name.
SENSITIVE_QUERY_PARAMETERS = frozenset({
    "code", "codeverifier", "devicecode", "usercode", "assertion", "clientassertion", "ticket",
    "samlresponse", "samlrequest", "samlart", "sig", "hmac", "key", "otp", "pin", "passcode", "auth",
})  # fmt: skip

_TOKEN_CHARS = r"A-Za-z0-9._~+/=\-"
# A credential after "Bearer"/"Basic": at least 16 token characters, or 6 with
# a digit or symbol among them, so prose such as "Basic usage" is left alone.
_CREDENTIAL = rf"(?:[{_TOKEN_CHARS}]{{16,}}|(?=[A-Za-z]*[0-9._~+/=\-])[{_TOKEN_CHARS}]{{6,}})"

# One alternation, scanned left to right (see ``Scrubber.scrub_text``). The
# order matters where two could start at the same place: URL credentials
# before ``key: value`` (``https://u:p@h`` also looks like ``https: ...``).
_ALTERNATIVES = (
    # PEM blocks (private keys, certificates), to the END line or the end of text
    r"(?P<pem>-----BEGIN [A-Z0-9 ]{1,64}-----[\s\S]*?(?:-----END [A-Z0-9 ]{1,64}-----|\Z))",
    # "Bearer abc", "Basic dXNlcjpwYXNz", "Digest ...", DRF's "Token abc"
    rf"(?P<scheme>\b(?:(?i:bearer|basic|digest)|Token))\s+{_CREDENTIAL}",
    # JSON Web Tokens: base64url header "eyJ...", payload, signature
    r"(?P<jwt>\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*)",
    # AWS-style access key ids
    r"(?P<aws>\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b)",
    # credentials inside URLs: scheme://user:password@host, scheme://token@host
    r"(?P<url>\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://)[^\s/@?#]+@",
    # key=value, key: value, "key": "value", 'key': 'value'; whether the key
    # is secret is decided in Python (``is_sensitive_key``), not here, and only
    # then is the value matched (``VALUE_PATTERN``): matching it here ran to
    # the end of text like "a=b=c=..." once per key, quadratic in its length.
    # (Not started right after a letter or "_": tried at every character of
    # a long word, the bounded run below cost up to 64 steps per character.
    # A key glued to more than 64 other characters is therefore not seen.)
    r"(?<![A-Za-z_])(?P<key>[A-Za-z_][A-Za-z0-9_.\-]{0,63})(?P<sep>[\"']?[ \t]{0,8}[=:][ \t]{0,8})"
    # a value must follow (a bare "key:" is left alone)
    r"(?=[^\s&,;])",
    # payment card numbers: 13-19 digits, optionally grouped; Luhn-checked below
    r"(?P<card>(?<![0-9A-Za-z])[2-6](?:[ \-]?[0-9]){12,18}(?![0-9A-Za-z]))",
)
TEXT_PATTERN = re.compile("|".join(_ALTERNATIVES))
# The value after a sensitive key. A bracketed value is taken whole (QueryDict's
# repr is "'password': ['x']"); an opening quote without its closing one still
# starts a value.
VALUE_PATTERN = re.compile(
    r"(?:(?i:bearer|basic|digest|token)[ \t]+)?"
    r"(?:\[[^\[\]]{0,2048}\]|\"[^\"]*\"|'[^']*'|[\"']?[^\s&,;\"']+)"
)

# What every alternative above needs somewhere in the text. Checked first, with
# substring tests that run at C speed, so text holding none of them (most
# paths, most messages without "=" or ":") skips the regular expression.
_TRIGGER_CHARS = ("=", ":", "@", "-----", "eyJ")
_TRIGGER_WORDS = ("bearer", "basic", "digest", "token")
_AWS_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")
_CARD_HINT = re.compile(r"[2-6][0-9 \-]{12}")


def may_hold_secret(text: str) -> bool:
    for trigger in _TRIGGER_CHARS:
        if trigger in text:
            return True
    lowered = text.lower()
    for word in _TRIGGER_WORDS:
        if word in lowered:
            return True
    for prefix in _AWS_PREFIXES:
        if prefix in text:
            return True
    return _CARD_HINT.search(text) is not None


# The same without ``key=value``: for scanning a key itself (see ``_replace``).
SECRET_PATTERN = re.compile("|".join(a for a in _ALTERNATIVES if "(?P<key>" not in a))


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def normalise_key(key: str) -> str:
    """``"X-API_Key"`` -> ``"xapikey"``: the form sensitive keys are matched in."""
    folded = unicodedata.normalize("NFKC", key).casefold()
    return folded.replace("-", "").replace("_", "").replace(".", "").replace(" ", "")
