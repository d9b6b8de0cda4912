"""Values quoted by database servers in their error messages: the wording and the
columns stay, the value goes (the messages as PostgreSQL 16 and MySQL 8 write them)."""

from __future__ import annotations

import time

import pytest

from django_lantern.scrubbing import Scrubber
from django_lantern.scrubbing._driver import may_hold_driver_value, redact_driver_values

R = "[redacted]"

CASES = {
    "unique": (
        'duplicate key value violates unique constraint "t_key"\nDETAIL:  Key (name)=(alice secret) already exists.',
        'duplicate key value violates unique constraint "t_key"\nDETAIL:  Key (name)=([redacted]) already exists.',
    ),
    "unique on an expression": (
        "DETAIL:  Key (lower(name || 'x'::text))=(alice secretx) already exists.",
        "DETAIL:  Key (lower(name || 'x'::text))=([redacted]) already exists.",
    ),
    "foreign key, insert": (
        'DETAIL:  Key (t1)=(99) is not present in table "t1".',
        'DETAIL:  Key (t1)=([redacted]) is not present in table "t1".',
    ),
    "foreign key, delete": (
        'DETAIL:  Key (id)=(1) is still referenced from table "t2".',
        'DETAIL:  Key (id)=([redacted]) is still referenced from table "t2".',
    ),
    "exclusion": (
        "DETAIL:  Key (c)=(secret1) conflicts with existing key (c)=(secret2).",
        "DETAIL:  Key (c)=([redacted]) conflicts with existing key (c)=([redacted]).",
    ),
    "check, with a newline in the row": (
        "DETAIL:  Failing row contains (4, carol sec\nret, null).\n\nThe above exception was the direct cause",
        "DETAIL:  Failing row contains ([redacted]).\n\nThe above exception was the direct cause",
    ),
    "invalid input and the statement": (
        "invalid input syntax for type integer: \"notanumber\"\nLINE 1: select 'notanumber'::int\n               ^",
        'invalid input syntax for type integer: "[redacted]"\nLINE 1: select ?::int\n               ^',
    ),
    "a statement window": (
        "invalid input syntax for type uuid: \"hunter2\"\nLINE 1: ...ct 'hunter2'::uuid\n               ^",
        'invalid input syntax for type uuid: "[redacted]"\nLINE 1: [redacted]\n               ^',
    ),
    "enum": ('invalid input value for enum mood: "elated"', 'invalid input value for enum mood: "[redacted]"'),
    "out of range": (
        'value "99999999999" is out of range for type integer',
        'value "[redacted]" is out of range for type integer',
    ),
    "json": (
        'DETAIL:  Token "bad" is invalid.\nCONTEXT:  JSON data, line 1: {bad...',
        'DETAIL:  Token "[redacted]" is invalid.\nCONTEXT:  JSON data, line 1: [redacted]',
    ),
    "mysql duplicate": (
        "(1062, \"Duplicate entry 'alice' for key 'auth_user.username'\")",
        "(1062, \"Duplicate entry '[redacted]' for key 'auth_user.username'\")",
    ),
    "mysql conversion": (
        "(1366, \"Incorrect integer value: 'abc' for column 'n' at row 1\")",
        "(1366, \"Incorrect integer value: '[redacted]' for column 'n' at row 1\")",
    ),
    "cut short": ("DETAIL:  Key (name)=(alice sec", "DETAIL:  Key (name)=([redacted]"),
}


@pytest.mark.parametrize("message", CASES.values(), ids=CASES.keys())
def test_the_value_goes_and_the_wording_stays(message: tuple[str, str]) -> None:
    raw, expected = message
    assert redact_driver_values(raw, R) == expected
    assert Scrubber().scrub_text(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "GET /api/orgs/12/tasks/ status=200",
        "the key (and its lock) were released",
        "a row contains nothing",
        "LINE items are shown in the invoice",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_driver_values(text, R) == text


def test_the_access_lines_shortcut_knows_the_rule() -> None:
    """``leaves_unchanged`` must not vouch for text this rule would change."""
    text = "GET /x/Key (a)=(b) already exists"
    assert may_hold_driver_value(text)
    assert not Scrubber().leaves_unchanged(text)


def test_hostile_text_is_scanned_in_linear_time() -> None:
    """Many openings and no closing wording: each match runs to the end once."""
    hostile = "Key (a)=(" * 10_000 + 'Failing row contains (invalid input syntax for type x: "' * 1_000
    started = time.perf_counter()
    redacted = redact_driver_values(hostile, R)
    assert time.perf_counter() - started < 2.0  # an upper bound under contention
    assert redacted == "Key (a)=(" + R
