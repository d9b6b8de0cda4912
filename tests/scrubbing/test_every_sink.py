"""Secrets that reach no sink: database error values and vendor tokens, checked in
every place a failing request is written (five log formats, Sentry's event,
breadcrumbs and transaction, spans, the admins' mail, the DEBUG page)."""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection

from tests.logging.test_formatters import ISSUE_TOKENS
from tests.scrubbing.test_patterns import FAKE_TOKENS
from tests.scrubbing.urls_sinks import DB_CASES, DB_VALUE

EVERY_SHAPE = tuple(tokens[0] for tokens in FAKE_TOKENS.values())

pytestmark = [pytest.mark.urls("tests.scrubbing.urls_sinks"), pytest.mark.django_db]

# What the server's message says once the value is gone, per case.
DB_MESSAGES = {
    "unique": "Key (name)=([redacted]) already exists",
    "foreign-key": "Key (parent)=([redacted]) is not present in table",
    "check": "Failing row contains ([redacted])",
    "not-null": "Failing row contains ([redacted])",
    "invalid-input": 'invalid input syntax for type integer: "[redacted]"',
}


@pytest.mark.parametrize("case", DB_CASES)
def test_database_error_values_reach_no_sink(case: str, every_sink: Any) -> None:
    """A unique, foreign-key, check or not-null violation and an invalid input on PostgreSQL
    (psycopg 3): the server quotes the row or value in its message; no sink shows it, and the
    seeding query's inline literal is ``?`` in Sentry's breadcrumb and span as in ours."""
    if connection.vendor != "postgresql":
        pytest.skip("the messages are PostgreSQL's")
    seen = every_sink(f"/sinks/db/{case}/", {"TRACING_QUERY_SPANS": True})
    seen.assert_absent(DB_VALUE)
    expected = DB_MESSAGES[case]
    error = next(line for line in map(json.loads, seen.log_lines["json"]) if line["logger"] == "django.request")
    assert expected in error["exc_message"] and expected in error["stack"]
    event = seen.sentry_events[0]  # the DEBUG request reports too
    assert any(expected in (v.get("value") or "") for v in event["exception"]["values"])
    crumbs = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "query"]
    assert any(
        c["message"].startswith("INSERT INTO lantern_sink") and "VALUES (?, ?, ?)" in c["message"] for c in crumbs
    )
    server = next(s for s in seen.spans if s.kind.name == "SERVER")
    (exception,) = [e for e in server.events if e.name == "exception"]
    assert expected in exception.attributes["exception.message"]
    for sink in ("the admins' mail", "the DEBUG page"):
        assert expected in html.unescape(seen.sinks[sink]), sink


# Each set in one request (a request per token would cost the fast suite
# seconds): the issue's tokens (Stripe, GitHub, Slack, Google), then one fake
# of every published shape.
TOKEN_SETS = {"the issue's tokens": tuple(ISSUE_TOKENS.values()), "every published shape": EVERY_SHAPE}


@pytest.mark.parametrize("tokens", TOKEN_SETS.values(), ids=TOKEN_SETS.keys())
def test_vendor_tokens_reach_no_sink(tokens: tuple[str, ...], every_sink: Any) -> None:
    """Tokens in a local variable, a log message, the exception message and the query
    string (a span attribute, Sentry's URL), under no telling name."""
    seen = every_sink(f"/sinks/token/?{urlencode({'t': ' '.join(tokens)})}", {"TRACING_QUERY_SPANS": True})
    for token in tokens:
        seen.assert_absent(token)
    assert "upstream rejected [redacted]" in seen.sinks["the json log lines"]
    assert "upstream rejected [redacted]" in html.unescape(seen.sinks["the DEBUG page"])
