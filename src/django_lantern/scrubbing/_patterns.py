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
# Reviewed against the keyword list of Yelp's detect-secrets (KeywordDetector:
# apikey, authkey, privkey, accountkey, clientkey, keypass ...) and gitleaks'
# generic-api-key keywords; "sessid" is PHP's and many frameworks' session name.
DEFAULT_SENSITIVE_KEYS = (
    "password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "accesskey",
    "authorization", "bearer", "jwt", "cookie", "session", "csrf", "xsrf", "cardnumber",
    "creditcard", "ccnumber", "cardno", "cvv", "cvc", "securitycode", "privatekey",
    "signature", "socialsecurity", "credential", "dsn", "privkey", "authkey", "appkey",
    "accountkey", "clientkey", "servicekey", "keypass", "sessid", "contrasena", "contraseña",
)  # fmt: skip

# Short names that are secret only as a whole word of the key, and only as its
# last word: "auth", "X-Auth", "basic_auth", "otp", "user_otp", "sig",
# "webhookSig" are secret, while "author", "auth_method", "signal", "design"
# and "shipping" are not. Words are split at "-", "_", ".", spaces and a
# lower-to-upper case change. From the same sources (detect-secrets' "pass",
# gitleaks' "auth" and "creds") and the query parameter names below.
SENSITIVE_LAST_WORDS = frozenset({"auth", "sig", "otp", "pin", "pass", "passcode", "creds", "hmac"})
_WORD_BREAK = re.compile(r"[-_.\s]+|(?<=[a-z0-9])(?=[A-Z])")


def last_word(key: str) -> str:
    """``"basicAuth"`` -> ``"auth"``, ``"X-Hub-Sig"`` -> ``"sig"``: the key's last word, case-folded."""
    words = [w for w in _WORD_BREAK.split(key[-64:]) if w]
    return words[-1].casefold() if words else ""


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

# Tokens whose prefix names the vendor, so they are found without a key. The
# facts (prefixes, alphabets, lengths) are those published by secret scanners:
# the rules of gitleaks (config/gitleaks.toml: stripe-access-token, github-pat,
# github-fine-grained-pat, slack-*-token, gcp-api-key, gitlab-pat, npm-access-
# token, pypi-upload-token, sendgrid-api-token, shopify-*, ...) and the
# providers' own token format announcements. Each is (its literal prefixes,
# the rest); every repetition is bounded and no two quantified parts can
# overlap, so a match costs at most its own length. Lengths are lower bounds
# where vendors have grown their tokens, so a longer token is still caught.
TOKEN_SHAPES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Stripe secret and restricted keys", ("sk_live_", "rk_live_", "sk_test_", "rk_test_", "sk_prod_", "rk_prod_"),
     r"[A-Za-z0-9]{10,247}"),
    ("GitHub classic, OAuth, app and refresh tokens", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"[A-Za-z0-9]{36,251}"),
    ("GitHub fine-grained tokens", ("github_pat_",), r"[A-Za-z0-9_]{22,245}"),
    ("Slack bot, user, app-level and legacy tokens", ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxe-", "xoxo-", "xoxs-"),
     r"[A-Za-z0-9][A-Za-z0-9\-]{8,250}"),
    ("Slack app-level tokens", ("xapp-",), r"[0-9]-[A-Za-z0-9\-]{8,250}"),
    ("Slack incoming webhooks", ("hooks.slack.com/services/", "hooks.slack.com/workflows/",
                                 "hooks.slack.com/triggers/"), r"[A-Za-z0-9+/]{20,120}"),
    ("Google API keys", ("AIza",), r"[A-Za-z0-9_\-]{35}"),
    ("GitLab tokens", ("glpat-", "gldt-", "glrt-", "glptt-", "gloas-"), r"[A-Za-z0-9_\-]{20,300}(?:\.[a-z0-9]{9})?"),
    ("npm tokens", ("npm_",), r"[A-Za-z0-9]{36}"),
    ("PyPI upload tokens", ("pypi-AgEIcHlwaS5vcmc",), r"[A-Za-z0-9_\-]{50,1000}"),
    ("Anthropic keys", ("sk-ant-",), r"[a-z]{3,8}[0-9]{2}-[A-Za-z0-9_\-]{80,120}"),
    ("OpenAI keys", ("sk-proj-", "sk-svcacct-", "sk-admin-"), r"[A-Za-z0-9_\-]{40,250}"),
    ("SendGrid keys", ("SG.",), r"[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}"),
    ("Shopify tokens", ("shpat_", "shpca_", "shppa_", "shpss_"), r"[a-fA-F0-9]{32}"),
    ("Hugging Face tokens", ("hf_",), r"[A-Za-z]{34}"),
    ("DigitalOcean tokens", ("dop_v1_", "doo_v1_", "dor_v1_"), r"[a-f0-9]{64}"),
    ("Linear keys", ("lin_api_",), r"[A-Za-z0-9]{40}"),
    ("Postman keys", ("PMAK-",), r"[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    ("Sentry user and organisation tokens", ("sntryu_",), r"[a-f0-9]{64}"),
    ("Sentry organisation tokens", ("sntrys_",), r"[A-Za-z0-9+/=_]{60,600}"),
    ("Grafana tokens", ("glsa_",), r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    ("Grafana Cloud tokens", ("glc_",), r"[A-Za-z0-9+/]{32,400}={0,3}"),
    ("Databricks tokens", ("dapi",), r"[a-f0-9]{32}(?:-[0-9])?"),
    ("Heroku keys", ("HRKU-AA",), r"[A-Za-z0-9_\-]{58}"),
    ("Square tokens", ("sq0atp-", "sq0csp-"), r"[A-Za-z0-9_\-]{22,60}"),
    ("Twilio API keys", ("SK",), r"[0-9a-fA-F]{32}(?![A-Za-z0-9])"),
    ("Artifactory keys", ("AKCp",), r"[A-Za-z0-9]{69}"),
    ("Doppler tokens", ("dp.pt.", "dp.st.", "dp.ct.", "dp.sa."), r"[A-Za-z0-9]{40,44}"),
    ("Dynatrace tokens", ("dt0c01.",), r"[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    ("Pulumi tokens", ("pul-",), r"[a-f0-9]{40}"),
    ("1Password service account tokens", ("ops_eyJ",), r"[A-Za-z0-9+/]{100,2000}={0,3}"),
    ("age secret keys", ("AGE-SECRET-KEY-1",), r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
)  # fmt: skip
# A pass of its own, run only when ``may_hold_token`` finds a prefix: as one
# more alternative of ``TEXT_PATTERN`` its seventy prefixes would be tried at
# every character of every text that has a ":" or "=".
TOKEN_PATTERN = re.compile(
    r"\b(?:"
    + "|".join(f"(?:{'|'.join(re.escape(p) for p in prefixes)}){rest}" for _, prefixes, rest in TOKEN_SHAPES)
    + ")"
)


def _token_hints() -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]:
    """The pre-check's view of the prefixes. Most hold a separator ("sk_",
    "xoxb-", "SG."): one pattern per separator starts with it, so the engine
    skips from one to the next in C and only there looks back for a prefix's
    head (grouped by length: a look-behind must have a fixed width). The few
    prefixes without a separator ("AIza") are substring tests."""
    literals: set[str] = set()
    heads: dict[str, dict[int, set[str]]] = {"_": {}, "-": {}, ".": {}}
    for _, prefixes, _ in TOKEN_SHAPES:
        for prefix in prefixes:
            cuts = [i for i in map(prefix.find, "_-.") if i >= 0]
            if cuts:
                cut = min(cuts)
                heads[prefix[cut]].setdefault(cut, set()).add(prefix[:cut])
            else:
                literals.add(prefix)
    patterns = []
    for sep, by_length in heads.items():
        sep_re = re.escape(sep)
        groups = (
            f"(?<=(?<![A-Za-z0-9])(?:{'|'.join(re.escape(w) for w in sorted(words))}){sep_re})"
            for _, words in sorted(by_length.items())
        )
        patterns.append(re.compile(f"{sep_re}(?:{'|'.join(groups)})"))
    return tuple(sorted(literals)), tuple(patterns)


_TOKEN_LITERALS, (_UNDERSCORE_HEAD, _HYPHEN_HEAD, _DOT_HEAD) = _token_hints()


def may_hold_token(text: str) -> bool:
    """Whether ``TOKEN_PATTERN`` could match (a prefix is present), cheaply."""
    for literal in _TOKEN_LITERALS:
        if literal in text:
            return True
    return (
        _UNDERSCORE_HEAD.search(text) is not None
        or _HYPHEN_HEAD.search(text) is not None
        or _DOT_HEAD.search(text) is not None
    )


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
