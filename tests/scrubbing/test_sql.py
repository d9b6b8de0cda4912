"""django_lantern.scrubbing._sql: SQL for spans, without literals or comments, capped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_lantern.scrubbing._sql import operation_name, scrub_sql

CASES = {
    "strings and numbers": (
        "SELECT * FROM \"t1\" WHERE a = 'x''y' AND b = 42 AND c = -3.5e2 LIMIT 21",
        'SELECT * FROM "t1" WHERE a = ? AND b = ? AND c = -? LIMIT ?',
    ),
    "placeholders and identifiers with digits stay": (
        "SELECT col_2, t1.x FROM t1 WHERE id = %s AND v = $1",
        "SELECT col_2, t1.x FROM t1 WHERE id = %s AND v = $1",
    ),
    "comments dropped": ("SELECT 1 -- password=hunter2\n/* token abc */ FROM t", "SELECT ?  \n  FROM t"),
    "escape string": ("SELECT E'it\\'s secret'", "SELECT ?"),
    "standard string keeps its backslash": ("SELECT 'C:\\', 'secret'", "SELECT ?, ?"),
    "dollar quoted": ("SELECT $$body secret$$, $x$ other $ secret $x$, 5", "SELECT ?, ?, ?"),
    "hex and bit strings": ("SELECT X'DEADBEEF', B'1010', 0x1F", "SELECT ?, ?, ?"),
    "unclosed literal runs to the end": ("SELECT 'unterminated secret FROM t", "SELECT ?"),
    "unclosed comment runs to the end": ("SELECT a /* secret", "SELECT a"),
    "quoted identifier is kept": ('INSERT INTO "auth_user" ("password") VALUES (%s)', None),
}


@pytest.mark.parametrize(("sql", "expected"), CASES.values(), ids=CASES.keys())
def test_standard_dialect(sql: str, expected: str | None) -> None:
    """PostgreSQL/SQLite rules: literals become ?, comments go, identifiers and placeholders stay."""
    assert scrub_sql(sql, 2048) == (sql if expected is None else expected)


def test_mysql_dialect() -> None:
    """MySQL: double quotes are strings, backslash escapes, # comments; backticks are identifiers."""
    sql = "SELECT `col1`, \"secret\", 'it\\'s secret', 7 FROM t # trailing secret"
    assert scrub_sql(sql, 2048, "mysql") == "SELECT `col1`, ?, ?, ? FROM t"


def test_cut_before_scanning_never_exposes_a_value() -> None:
    """The cap applies to the input, so a literal cut in half still disappears."""
    sql = "SELECT 'a-very-long-secret-value-that-goes-on'"
    assert scrub_sql(sql, 20) == "SELECT ?"
    assert len(scrub_sql("SELECT " + "a, " * 1000, 64)) <= 64


def test_operation_name() -> None:
    """The first keyword, upper-cased; none for text without one."""
    assert operation_name(scrub_sql("  (select 1) union (select 2)", 100)) == "SELECT"
    assert operation_name("insert into t values (?)") == "INSERT"
    assert operation_name("?") is None


SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -_.:/\\'\"$", min_size=8, max_size=40)


@given(secret=SECRET, dialect=st.sampled_from(["postgresql", "sqlite", "mysql"]))
def test_no_quoted_value_survives(secret: str, dialect: str) -> None:
    """Property: a value inlined as a correctly quoted literal never reaches the output."""
    marker = "zq" + secret
    if dialect == "mysql":
        literal = "'" + marker.replace("\\", "\\\\").replace("'", "\\'") + "'"
    else:
        literal = "'" + marker.replace("'", "''") + "'"
    out = scrub_sql(f"SELECT a FROM t WHERE b = {literal} AND c = 1", 2048, dialect)
    assert marker not in out
    assert out == "SELECT a FROM t WHERE b = ? AND c = ?"


@given(st.text(max_size=3000))
def test_any_input_is_bounded(sql: str) -> None:
    """Any text at all: no error, and never longer than the cap."""
    assert len(scrub_sql(sql, 256)) <= 256
