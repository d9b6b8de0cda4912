"""django_lantern.scrubbing._patterns: vendor token shapes and the key words, each tested."""

from __future__ import annotations

import pytest

from django_lantern.scrubbing import REDACTED, Scrubber
from django_lantern.scrubbing._patterns import TOKEN_PATTERN, TOKEN_SHAPES, may_hold_token

S = Scrubber()

# One realistic fake of each shape in ``TOKEN_SHAPES``, assembled from parts so
# that no complete token sits in the source for a secret scanner to report.
FAKE_TOKENS = {
    "Stripe secret and restricted keys": [
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
        "rk_live_" + "51H8xZ2eZvKYlo2C0aBcDeF",
    ],
    "GitHub classic, OAuth, app and refresh tokens": [
        "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "ghs_" + "Z" * 36,
    ],
    "GitHub fine-grained tokens": ["github_pat_" + "11ABCDEFG0123456789_" + "abcdefghijKLMNOPQRST0123456789" * 2],
    "Slack bot, user, app-level and legacy tokens": [
        "xoxb-" + "2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-" + "2345678901-2345678901-2345678901234-0123456789abcdef0123456789abcdef",
    ],
    "Slack app-level tokens": ["xapp-" + "1-A0123456789-0123456789012-abcdef0123456789"],
    "Slack incoming webhooks": ["https://hooks.slack.com/services/" + "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"],
    "Google API keys": ["AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"],
    "GitLab tokens": ["glpat-" + "xxxxxxxxxxxxxxxxxxxx"],
    "npm tokens": ["npm_" + "abcdefghijklmnopqrstuvwxyz0123456789"],
    "PyPI upload tokens": ["pypi-AgEIcHlwaS5vcmc" + "CJDU1ZjA0ZjQ0LTI0NjktNDk3Ni1hYjQ5LTEyMzQ1Njc4OTBhYgACKlsz"],
    "Anthropic keys": ["sk-ant-" + "api03-" + "a1B2c3D4e5" * 9 + "abcAA"],
    "OpenAI keys": ["sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2],
    "SendGrid keys": ["SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"],
    "Shopify tokens": ["shpat_" + "0123456789abcdef0123456789abcdef"],
    "Hugging Face tokens": ["hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"],
    "DigitalOcean tokens": ["dop_v1_" + "0123456789abcdef" * 4],
    "Linear keys": ["lin_api_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd"],
    "Postman keys": ["PMAK-" + "0123456789abcdef01234567-0123456789abcdef0123456789abcdef01"],
    "Sentry user and organisation tokens": ["sntryu_" + "0123456789abcdef" * 4],
    "Sentry organisation tokens": [
        "sntrys_" + "eyJpYXQiOjE2ODQ4MjQ3NzUuNjQ4NjQ3LCJ1cmwiOiJodHRwczovL3NlbnRyeS5pbyJ9_abc"
    ],
    "Grafana tokens": ["glsa_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345_0123abcd"],
    "Grafana Cloud tokens": ["glc_" + "eyJvIjoiMTIzNDU2IiwibiI6InN0YWNrLTEyMzQ1Ni1obS1yZWFkIiwiayI6IjEyMyJ9"],
    "Databricks tokens": ["dapi" + "0123456789abcdef" * 2],
    "Heroku keys": ["HRKU-AA" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"],
    "Square tokens": ["sq0atp-" + "0123456789ABCDEFabcdef"],
    "Twilio API keys": ["SK" + "0123456789abcdef" * 2],
    "Artifactory keys": ["AKCp" + "8" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345"],
    "Doppler tokens": ["dp.pt." + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfG"],
    "Dynatrace tokens": ["dt0c01." + "ABCDEFGHIJKLMNOPQRSTUVWX" + "." + "0123456789abcdef" * 4],
    "Pulumi tokens": ["pul-" + "0123456789abcdef0123456789abcdef01234567"],
    "1Password service account tokens": ["ops_eyJ" + "zaWduSW5BZGRyZXNzIjoibXkuMXBhc3N3b3JkLmNvbSIs" * 4],
    "age secret keys": ["AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" + "QPZRY9X8GF2TVDW0S3JN54KHCE"],
}
CASES = [(name, token) for name, tokens in FAKE_TOKENS.items() for token in tokens]


def test_every_published_shape_has_a_fake_token() -> None:
    """Each rule in TOKEN_SHAPES is exercised below; a new rule without a sample fails here."""
    assert sorted(name for name, _, _ in TOKEN_SHAPES) == sorted(FAKE_TOKENS)


@pytest.mark.parametrize(("name", "token"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_vendor_tokens_are_redacted_in_free_text(name: str, token: str) -> None:
    """A token found by its shape alone, with no key to give it away, in prose, quotes and key=value."""
    assert may_hold_token(token), name
    assert TOKEN_PATTERN.search(token), name
    for text in (f"upstream rejected {token} (401)", f"reply: '{token}'", f"config upstream={token}", token):
        scrubbed = S.scrub_text(text)
        assert token not in scrubbed and REDACTED in scrubbed, (name, scrubbed)
    assert S.leaves_unchanged(f"GET /{token}") is False


@pytest.mark.parametrize(
    "text",
    [
        "sk_live_short", "ask_live_4eC39HqLyjWDarjtT1zdp7dc", "ghp_tooshort", "SKU 0123456789abcdef0123456789abcdef99",
        "AIzaShort", "see github_pat_ docs", "xoxb-", "the sk-ant- prefix", "SG.example.com", "task_done", "re-try",
    ],
)  # fmt: skip
def test_text_that_only_resembles_a_token_is_kept(text: str) -> None:
    """Prefixes without the body, or glued to a word, are not tokens."""
    assert S.scrub_text(text) == text


@pytest.mark.parametrize(
    "key", ["auth", "X-Auth", "basic_auth", "basicAuth", "privKey", "priv_key", "sessid", "PHPSESSID", "sig",
            "X-Hub-Sig", "otp", "user_otp", "pin", "authkey", "client_key", "keypass"],
)  # fmt: skip
def test_short_secret_names_are_masked(key: str) -> None:
    """Names from the secret scanners' keyword lists, as a whole last word or as a fragment."""
    assert S.is_sensitive_key(key)
    assert S.scrub({key: "value-1234"}) == {key: REDACTED}
    assert S.scrub_text(f"{key}=value-1234") == f"{key}={REDACTED}"


@pytest.mark.parametrize(
    "key", ["signal", "author", "design", "auth_method", "authority", "signup", "otp_length", "pinned", "shipping",
            "cache_key", "passed", "config"],
)  # fmt: skip
def test_words_that_contain_a_short_name_are_kept(key: str) -> None:
    """Words such as signal, author and design hold "sig" and "auth" but are not secret names."""
    assert not S.is_sensitive_key(key)
    assert S.scrub({key: "kept"}) == {key: "kept"}
    assert S.scrub_text(f"{key}=kept") == f"{key}=kept"


def test_token_precheck_stays_linear_on_hostile_text() -> None:
    """Thousands of separators and prefixes without bodies are scanned in one pass."""
    text = "sk_live_ xoxb- ghp_ _-." * 4000
    assert S.scrub_text(text) == text


def test_leaves_unchanged_remembers_its_verdicts_boundedly() -> None:
    """Asked again, the same text gets the same answer; many different texts keep the memory bounded."""
    scrubber = Scrubber()
    secret, plain = "GET /reset?token=abc 10.0.0.1", "GET /tasks/ 10.0.0.1"
    for _ in range(2):
        assert scrubber.leaves_unchanged(secret) is False
        assert scrubber.leaves_unchanged(plain) is True
        assert scrubber.scrub_text(secret) != secret
    for i in range(10_000):
        scrubber.leaves_unchanged(f"GET /p/{i} -")
    assert len(scrubber._unchanged_cache) <= 4096
    assert scrubber.leaves_unchanged(secret) is False
