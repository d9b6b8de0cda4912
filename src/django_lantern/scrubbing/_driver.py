"""Values a database server quotes in its error messages, found by the message's wording.

A constraint or conversion error repeats the row or the value that broke it:
PostgreSQL's ``DETAIL:  Key (username)=(alice) already exists.``, ``Failing
row contains (3, bob, -7).``, ``invalid input syntax for type integer:
"abc"``, the ``LINE 1: select 'abc'::int`` context psycopg adds when Django
inlines parameters client-side; MySQL's ``Duplicate entry 'alice' for key``.
These values are user data with neither a key nor a shape that gives them
away, and the message reaches every sink (``exc_message``, stacks, Sentry's
exception value, span events, the error e-mail). Each rule keeps the wording
and the column names and replaces only the value.

The server prints values unescaped, so a value may contain anything, newlines
included: a value runs lazily to the wording that follows it (``) already
exists``, ``).`` at the end of a line), and, when that wording never comes (a
message cut short), to the end of the text, which is the safe side.
Every rule starts at a fixed phrase and the text is scanned once; text
without any of the phrases costs a few substring tests.
"""

from __future__ import annotations

import re

from django_lantern.scrubbing._sql import scrub_sql

_END = r"(?=\n|\Z)"
_RULES = re.compile(
    "|".join(
        (
            # PostgreSQL unique, foreign-key and exclusion violations. The
            # columns may be an expression with parentheses: "Key (lower(email))=(".
            r"(?P<h1>\b[Kk]ey \([^\n]{0,512}?\)=\()(?P<v1>[\s\S]*?)"
            r"(?P<t1>\)(?= (?:already exists|is not present in table|is still referenced from table"
            r"|conflicts with existing key))|\)\.?" + _END + r"|\Z)",
            # Check and not-null violations: the whole row.
            r"(?P<h2>Failing row contains \()(?P<v2>[\s\S]*?)(?P<t2>\)\." + _END + r"|\Z)",
            # Conversions: invalid input syntax for type integer: "abc", enum values, dates.
            r"(?P<h3>invalid input (?:syntax|value) for (?:type|enum) [^\n:\"]{1,64}: \"|field value out of range: \")"
            r"(?P<v3>[\s\S]*?)(?P<t3>\"" + _END + r"|\Z)",
            r"(?P<h4>\bvalue \")(?P<v4>[^\n]*?)(?P<t4>\" is out of range for type)",
            # JSON input errors: the offending token and the document around it.
            r"(?P<h5>Token \")(?P<v5>[^\n]*?)(?P<t5>\" is invalid\.)",
            r"(?P<h6>JSON data, line \d{1,9}: )(?P<v6>[^\n]*)(?P<t6>)",
            # MySQL: duplicate keys and conversions.
            r"(?P<h7>Duplicate entry ')(?P<v7>[\s\S]*?)(?P<t7>' for key|\Z)",
            r"(?P<h8>Incorrect [A-Za-z ]{1,40} value: ')(?P<v8>[\s\S]*?)(?P<t8>' for (?:column|function)|\Z)",
            # PostgreSQL's statement context, where client-side binding puts the values.
            r"(?P<h9>(?m:^)LINE \d{1,9}: )(?P<v9>[^\n]*)(?P<t9>)",
        )
    )
)
_SQL_LINE_LIMIT = 4096


def may_hold_driver_value(text: str) -> bool:
    """Whether a rule could match (one of its phrases is present), cheaply."""
    # The phrases the rules start with, grouped under a character each group
    # needs, so ordinary text costs a few one-character tests.
    return (
        ("(" in text and ("ey (" in text or "row contains (" in text))  # Key (col)=(v), Failing row
        or ('"' in text and ("nput " in text or "out of range" in text or 'Token "' in text))
        or (": " in text and ("LINE " in text or "JSON data" in text))
        or ("'" in text and ("Duplicate entry" in text or " value: '" in text))
    )


def redact_driver_values(text: str, replacement: str) -> str:
    """``text`` with the values quoted in database error messages replaced by ``replacement``."""
    if not may_hold_driver_value(text):
        return text

    def replace(match: re.Match[str]) -> str:
        rule = match.lastgroup[1:] if match.lastgroup else ""
        head, value = match.group("h" + rule), match.group("v" + rule)
        if rule == "9":
            # A window of the statement: kept with its literals replaced, unless
            # it starts inside the statement ("...x', 5)"), where a quote may
            # close a literal that began before the window.
            value = replacement if value.startswith("...") else scrub_sql(value, _SQL_LINE_LIMIT)
        elif value:
            value = replacement
        return head + value + (match.group("t" + rule) or "")

    return _RULES.sub(replace, text)
