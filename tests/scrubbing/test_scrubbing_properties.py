"""Property-based tests (hypothesis): nested structures, odd key spellings and
random text through the scrubber and both formatters. Every planted secret is
removed, every output is valid (JSON / one line), nothing raises."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_lantern.logging import JsonFormatter, RequestContextFilter, TextFormatter
from django_lantern.scrubbing import Scrubber

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SENSITIVE_BASES = [
    "password", "passwd", "secret", "token", "apikey", "authorization", "cookie", "session",
    "csrf", "cardnumber", "cvv", "privatekey", "accesskey", "credential",
]  # fmt: skip
SEPARATORS = ["", "", "", "-", "_", ".", " "]

# A planted secret is a marker no scrubber output could invent: "Zq" + 12 hex.
marker = st.text(alphabet="0123456789abcdef", min_size=12, max_size=12).map(lambda h: f"Zq{h}")


@st.composite
def odd_key(draw: st.DrawFn) -> str:
    """A sensitive key in an odd spelling: random case, separators, affixes."""
    base = draw(st.sampled_from(SENSITIVE_BASES))
    chars = [c.upper() if draw(st.booleans()) else c for c in base]
    spelled = "".join(c + draw(st.sampled_from(SEPARATORS)) for c in chars).rstrip("-_. ")
    prefix = draw(st.sampled_from(["", "X-", "new_", "old", "HTTP_", "user."]))
    suffix = draw(st.sampled_from(["", "1", "_confirm", "Id", "-value", "s"]))
    return prefix + spelled + suffix


def luhn_complete(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits + "0")):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return digits + str((10 - total % 10) % 10)


@st.composite
def shaped_secret(draw: st.DrawFn) -> tuple[str, str]:
    """(text to plant, the part that must disappear): credential-shaped values."""
    m = draw(marker)
    kind = draw(st.sampled_from(["bearer", "basic", "jwt", "url", "pair", "pem", "card", "aws"]))
    if kind == "bearer":
        return f"Bearer {m}abcdefgh", m
    if kind == "basic":
        return f"Basic {m}==", m
    if kind == "jwt":
        return f"eyJhbGciOi{m}.eyJzdWIi{m}.sig{m}", m
    if kind == "url":
        return f"https://user:{m}@db.example:5432/x", m
    if kind == "pair":
        key = draw(odd_key()).replace(" ", "_").replace(".", "_")
        sep = draw(st.sampled_from(["=", ": ", "=", '": "']))
        return f"{key}{sep}{m}", m
    if kind == "pem":
        return f"-----BEGIN PRIVATE KEY-----\n{m}\n-----END PRIVATE KEY-----", m
    if kind == "aws":
        body = draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16))
        return f"AKIA{body}", f"AKIA{body}"
    start = draw(st.sampled_from("3456"))
    digits = luhn_complete(start + draw(st.text(alphabet="0123456789", min_size=14, max_size=14)))
    grouped = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    return grouped, grouped


noise = st.text(max_size=40)


@st.composite
def text_with_secret(draw: st.DrawFn) -> tuple[str, str]:
    planted, secret = draw(shaped_secret())
    return f"{draw(noise)} {planted} {draw(noise)}", secret


@st.composite
def structure_with_secrets(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """A random nested structure with secrets under odd keys and inside text."""
    secrets: list[str] = []

    def leaf() -> Any:
        choice = draw(st.integers(0, 4))
        if choice == 0:
            text, secret = draw(text_with_secret())
            secrets.append(secret)
            return text
        if choice == 1:
            return draw(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True)))
        return draw(noise)

    def build(depth: int) -> Any:
        if depth >= 4 or draw(st.integers(0, 3)) == 0:
            return leaf()
        if draw(st.booleans()):
            out: dict[Any, Any] = {}
            for _ in range(draw(st.integers(0, 4))):
                if draw(st.booleans()):
                    m = draw(marker)
                    secrets.append(m)
                    out[draw(odd_key())] = draw(st.sampled_from([m, [m], {"inner": m}, (m, 1), f"x {m} y"]))
                else:
                    out[draw(st.text(max_size=12))] = build(depth + 1)
            return out
        items = [build(depth + 1) for _ in range(draw(st.integers(0, 4)))]
        return items if draw(st.booleans()) else tuple(items)

    return build(0), secrets


@SETTINGS
@given(structure_with_secrets())
def test_scrubber_removes_every_planted_secret_from_structures(case: tuple[Any, list[str]]) -> None:
    value, secrets = case
    out = json.dumps(Scrubber().scrub(value), default=repr)
    for secret in secrets:
        assert secret not in out


@SETTINGS
@given(text_with_secret())
def test_scrubber_removes_every_shaped_secret_from_text(case: tuple[str, str]) -> None:
    text, secret = case
    assert secret not in Scrubber().scrub_text(text)


@SETTINGS
@given(st.text(max_size=2000))
def test_scrub_text_never_raises_and_keeps_plain_text_whole_lines(text: str) -> None:
    out = Scrubber().scrub_text(text)
    assert isinstance(out, str)
    assert out.count("\n") <= text.count("\n")  # replacing never adds lines


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    __str__ = __repr__


odd_values = st.sampled_from([object(), Unprintable(), {1, 2}, b"\xff\xfe", 2**80, math.nan, math.inf, "\ud800"])


@st.composite
def log_record(draw: st.DrawFn) -> tuple[logging.LogRecord, list[str]]:
    """A record with a secret in the message, secrets in ``extra``, odd values,
    and sometimes arguments that do not fit the template."""
    text, secret = draw(text_with_secret())
    secrets = [secret]
    template = draw(st.sampled_from(["%s", "%s %s", "%d", "%(x)s", "plain", "%z"]))
    if template == "%s":
        msg, args = "%s", (text,)
    elif template == "plain":
        msg, args = text, ()
    else:
        # Does not fit (or only sometimes): the raw argument must never show.
        raw = draw(marker)
        secrets.append(raw)
        msg, args = f"{draw(noise)} {template}", (raw,)
    record = logging.LogRecord("tests.props", logging.WARNING, __file__, 1, msg, args, None)
    structure, nested = draw(structure_with_secrets())
    secrets.extend(nested)
    record.__dict__["payload"] = structure
    record.__dict__["odd"] = draw(odd_values)
    m = draw(marker)
    secrets.append(m)
    record.__dict__[draw(odd_key()).replace(" ", "_")] = m
    return record, secrets


def _format_all(record: logging.LogRecord) -> tuple[str, str, str]:
    RequestContextFilter().filter(record)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        json_line = JsonFormatter().format(record)
        text_line = TextFormatter().format(record)
    return json_line, text_line, stderr.getvalue()


@SETTINGS
@given(log_record())
def test_formatters_emit_one_valid_line_without_secrets(case: tuple[logging.LogRecord, list[str]]) -> None:
    record, secrets = case
    json_line, text_line, stderr = _format_all(record)
    assert "\n" not in json_line and "\n" not in text_line
    parsed = json.loads(json_line)
    assert parsed["logger"] == "tests.props" and parsed["request_id"] == "-"
    assert stderr == ""
    for secret in secrets:
        assert secret not in json_line
        assert secret not in text_line


@SETTINGS
@given(st.text(max_size=300), st.lists(st.text(max_size=50), max_size=3))
def test_formatters_survive_any_message_and_arguments(msg: str, args: list[str]) -> None:
    record = logging.LogRecord("tests.props", logging.INFO, __file__, 1, msg, tuple(args), None)
    json_line, text_line, stderr = _format_all(record)
    assert json.loads(json_line)["level"] == "info"
    assert "\n" not in json_line and "\n" not in text_line and stderr == ""
