"""The Scrubber: keys, value patterns, query strings, URLs, bounds, configuration."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from django_lantern import scrubbing
from django_lantern.scrubbing import DEPTH_MARKER, MAX_ITEMS, REDACTED, Scrubber, get_scrubber

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF123_-x"
S = Scrubber()


@pytest.mark.parametrize(
    "key",
    [
        "password", "Password1", "new_password", "NEW-PASSWORD", "passwd", "pwd", "client_secret", "X-Auth-Token",
        "access_token", "refresh_token", "api_key", "apiKey", "X-API-KEY", "api.key", "Authorization",
        "Proxy-Authorization", "Cookie", "Set-Cookie", "sessionid", "csrfmiddlewaretoken", "card_number", "cardNumber",
        "credit_card", "cvv", "CVC", "private_key", "aws_secret_access_key", "HTTP_AUTHORIZATION", "SENTRY_DSN",
    ],
)  # fmt: skip
def test_sensitive_keys_match_by_substring_in_any_spelling(key: str) -> None:
    """Keys match case-insensitively, by substring, ignoring - _ . and spaces."""
    assert S.is_sensitive_key(key)
    assert S.scrub({key: "value-1234"}) == {key: REDACTED}


@pytest.mark.parametrize(
    "key", ["request_id", "user_id", "method", "path", "route", "status", "duration_ms", "shipping", "cache_key", 42]
)
def test_ordinary_keys_are_kept(key: Any) -> None:
    """Context fields and everyday names are not secrets."""
    assert not S.is_sensitive_key(key)
    assert S.scrub({key: "kept"}) == {key: "kept"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: [redacted]"),
        ("auth Bearer abcdefghijklmnopqrstu done", "auth Bearer [redacted] done"),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic [redacted]"),
        (f"token in text {JWT} end", "token in text [redacted] end"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key [redacted] used"),
        ("db postgres://app:hunter2@db:5432/app", "db postgres://[redacted]@db:5432/app"),
        ("card 4111 1111 1111 1111 declined", "card [redacted] declined"),
        ("card 4111-1111-1111-1111", "card [redacted]"),
        ("GET /x/?token=abc123&page=2&api_key=zz", "GET /x/?token=[redacted]&page=2&api_key=[redacted]"),
        ('{"password": "hunter2", "ok": 1}', '{"password": "[redacted]", "ok": 1}'),
        ("{'new_password': ['a', 'b']}", "{'new_password': '[redacted]'}"),
        ("Cookie: a=b; sessionid=xyz", "Cookie: [redacted]; sessionid=[redacted]"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- after", "[redacted] after"),
        ("url=https://tok@github.com/x", "url=https://[redacted]@github.com/x"),
    ],
)
def test_credential_shaped_text_is_replaced(text: str, expected: str) -> None:
    """Value patterns: auth schemes, JWTs, AWS keys, URL credentials, cards, PEM, secret pairs."""
    assert S.scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "method=GET path=/healthz/ status=200 duration_ms=0.42 user_id=None",
        "Basic usage of the API",
        "the token expired",
        "epoch 1700000000000 and id 4111111111111112",  # not a card: starts with 1 / fails Luhn
        "KeyError: 'password'",
        "request 0af7651916cd43dd8448eb211c80319c",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """No false positives on the lines lantern itself writes or on prose."""
    assert S.scrub_text(text) == text


def test_query_strings_are_scrubbed_by_parameter_name() -> None:
    """?token= and ?password1= go, other parameters stay."""
    assert S.scrub_query_string("token=a&password1=b&q=hello+world&next=/a/") == (
        "token=[redacted]&password1=[redacted]&q=hello%20world&next=/a/"
    )


def test_urls_lose_user_info_and_secret_parameters() -> None:
    assert (
        S.scrub_url("https://u:p@example.com/p?api_key=1&x=2")
        == "https://[redacted]@example.com/p?api_key=[redacted]&x=2"
    )


def test_nesting_depth_and_size_are_bounded() -> None:
    """Deep nesting is cut with a marker; long containers are truncated and say so."""
    deep: Any = "leaf"
    for _ in range(50):
        deep = {"a": [deep]}
    text = json.dumps(S.scrub(deep))
    assert DEPTH_MARKER in text and "leaf" not in text
    big = S.scrub(list(range(MAX_ITEMS + 10)))
    assert len(big) == MAX_ITEMS + 1 and big[-1] == "[10 more items]"
    wide = S.scrub({f"k{i}": i for i in range(MAX_ITEMS + 5)})
    assert wide["lantern_truncated_items"] == 5


def test_other_objects_become_their_scrubbed_repr() -> None:
    """An object a sink would print is printed here first, then scrubbed."""

    class Creds:
        def __repr__(self) -> str:
            return "Creds(password=hunter2)"

    class Unprintable:
        def __repr__(self) -> str:
            raise ValueError("no")

    assert S.scrub([Creds(), Unprintable(), b"token=abc", {1, 2}]) == [
        # An unquoted value runs to the next blank or separator: the ")" goes
        # too, rather than risk leaving the tail of a password that holds one.
        "Creds(password=[redacted]",
        "<unrepresentable Unprintable>",
        "token=[redacted]",
        (1, 2),
    ]


def test_sensitive_post_parameters_are_honoured() -> None:
    """Django's marker: named fields, or all of them."""
    data = {"memo": "x", "title": "t"}
    assert S.scrub_post_data(data, ["memo"]) == {"memo": REDACTED, "title": "t"}
    assert S.scrub_post_data(data, "__ALL__") == {"memo": REDACTED, "title": REDACTED}
    assert S.scrub_post_data(data, None) == data


def test_request_secrets_lists_values_under_sensitive_names() -> None:
    """Cookies, credential headers, sensitive query and form fields; never short values."""
    request = RequestFactory().post(
        "/x/?token=query-secret-1&page=2",
        {"password": "form-secret-1", "title": "not secret", "cvv": "123"},
        HTTP_AUTHORIZATION="Bearer header-secret-1",
        HTTP_COOKIE="sessionid=cookie-secret-1",
    )
    request.POST  # noqa: B018 - parsed, as a view would
    found = S.request_secrets(request)
    for value in ("query-secret-1", "form-secret-1", "header-secret-1", "Bearer header-secret-1", "cookie-secret-1"):
        assert value in found
    assert "not secret" not in found and "123" not in found and "2" not in found
    assert S.redact_known({"params": ["cookie-secret-1", 5]}, found) == {"params": [REDACTED, 5]}


def test_settings_add_keys_and_patterns(settings: Any) -> None:
    """SCRUB_EXTRA_KEYS and SCRUB_EXTRA_PATTERNS extend the defaults."""
    settings.LANTERN = {**settings.LANTERN, "SCRUB_EXTRA_KEYS": ["Member-No"], "SCRUB_EXTRA_PATTERNS": [r"ACME-\d{6}"]}
    scrubber = get_scrubber()
    assert scrubber.scrub({"member_no": "1", "x": "id ACME-123456"}) == {"member_no": REDACTED, "x": f"id {REDACTED}"}


class UpperScrubber(Scrubber):
    """A replacement class: shouts its marker."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(replacement="[GONE]", **kwargs)


def test_scrubber_class_is_replaceable_by_dotted_path(settings: Any) -> None:
    settings.LANTERN = {**settings.LANTERN, "SCRUBBER_CLASS": "tests.scrubbing.test_scrubbing.UpperScrubber"}
    assert scrubbing.scrub({"password": "x"}) == {"password": "[GONE]"}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("SCRUBBER_CLASS", "no.such.Scrubber", "cannot be imported"),
        ("SCRUBBER_CLASS", "collections.OrderedDict", "not a subclass"),
        ("SCRUB_EXTRA_PATTERNS", ["("], "invalid regular expression"),
    ],
)
def test_bad_scrubber_settings_name_the_setting(settings: Any, setting: str, value: Any, message: str) -> None:
    settings.LANTERN = {**settings.LANTERN, setting: value}
    with pytest.raises(ImproperlyConfigured, match=message) as info:
        get_scrubber()
    assert setting in str(info.value)


def test_span_attributes_are_dropped_when_the_scrubber_fails(settings: Any, internal_errors: dict[str, int]) -> None:
    """A failing scrubber leaves a span no attributes (never the raw values), and a count."""
    from django_lantern.tracing._attributes import scrubbed

    settings.LANTERN = {**settings.LANTERN, "SCRUBBER_CLASS": "tests.sentry.test_sentry.BrokenScrubber"}
    assert scrubbed({"password": "x", "http.route": "/"}) == {}
    assert internal_errors["scrub:span"] == 1


def test_huge_text_is_cut_before_scanning() -> None:
    """Scanning is bounded: past MAX_TEXT_LENGTH the text is cut, with a marker."""
    text = "a " * scrubbing.MAX_TEXT_LENGTH
    out = S.scrub_text(text)
    assert len(out) < scrubbing.MAX_TEXT_LENGTH + 100 and "chars cut]" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--password=hunter2x", "--password=[redacted]"),  # a command-line flag
        ("xapi_key--4111111111111111=' ;", "xapi_key--[redacted]=' ;"),  # a card inside a key with no value
        ("a=b " * 3 + "token=abc123", "a=b a=b a=b token=[redacted]"),
        ("x.eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.tail: 1", "x.[redacted]: 1"),  # a JWT inside a plain key
    ],
)
def test_key_value_pairs_found_by_the_word_anchored_scan(text: str, expected: str) -> None:
    """The key=value scan starts at word boundaries but still finds flags, values and secrets in keys."""
    assert Scrubber().scrub_text(text) == expected


@pytest.mark.parametrize("text", ["ab=" * 30000, "a1" * 49000 + "=", "x" * 99000])
def test_huge_hostile_text_is_scrubbed_completely(text: str) -> None:
    """Text that once cost seconds per line (a=b=c=..., long words) is handled, and nothing is lost."""
    assert Scrubber().scrub_text(text) == text  # nothing secret in it, so nothing changes


def _reset(user_id: int, new_password: str, options: dict[str, str] | None = None, note: str = "") -> None:
    """A task's signature, for ``argument_secrets``."""


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((7, "hunter2-secret"), {}, ("hunter2-secret",)),  # positional, by the parameter's name
        ((7,), {"new_password": "hunter2-secret", "note": "weekly-report"}, ("hunter2-secret",)),
        ((7, "short"), {}, ()),  # under six characters: left to the other rules
        ((7, "x" * 8, {"api_key": "k" * 12, "mode": "fast-mode"}), {}, ("k" * 12, "x" * 8)),  # a dict by its keys
        ((1, 2, 3, 4, 5), {"token": "t" * 10}, ("t" * 10,)),  # not the signature: its keywords still count
    ],
)
def test_argument_secrets(args: tuple[object, ...], kwargs: dict[str, object], expected: tuple[str, ...]) -> None:
    assert scrubbing.argument_secrets(_reset, args, kwargs) == expected
