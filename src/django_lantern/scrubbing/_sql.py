"""SQL text safe for a span: literals replaced with ``?``, comments dropped, length capped.

Django passes parameter values separately (``%s`` placeholders), but raw SQL,
``extra()`` and migrations may inline them, and a comment may carry anything.
A query span must never carry a value, so every string, number, dollar-quoted
body and comment is removed, while quoted identifiers (``"auth_user"``,
MySQL's backticks) are kept: they name tables and columns, not data.

One regular expression per dialect, one left-to-right pass, no nested
quantifiers, and the input is cut to the cap *before* scanning: the cost is
linear in at most ``max_length`` characters. Cutting first can leave a
literal unclosed; an unclosed literal runs to the end and is replaced too,
so a cut never exposes the rest of a value.

The dialects differ on purpose: in PostgreSQL, SQLite and Oracle a backslash
inside ``'...'`` is an ordinary character (``E'...'`` strings excepted) and
double quotes delimit identifiers; in MySQL a backslash escapes the next
character and double quotes delimit strings. Scanning one with the other's
rules would end a literal early and leak what follows.
"""

from __future__ import annotations

import re

PLACEHOLDER = "?"

_COMMENT = r"(?P<comment>--[^\n]*|/\*[\s\S]*?(?:\*/|\Z))"
_NUMBER = r"(?P<number>(?<![\w$])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)(?![\w$]))"
_DOLLAR = r"(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$[\s\S]*?(?:\$(?P=tag)\$|\Z))"

_STANDARD = re.compile(
    "|".join(
        (
            _COMMENT,
            r"(?P<ident>\"(?:[^\"]|\"\")*(?:\"|\Z))",
            # E'...' before plain strings: there a backslash escapes a quote.
            r"(?P<estring>(?<![\w$])[Ee]'(?:[^'\\]|\\[\s\S]|'')*(?:'|\Z))",
            r"(?P<string>(?<![\w$])[XxBbNnUu]?(?:&)?'(?:[^']|'')*(?:'|\Z))",
            _DOLLAR,
            _NUMBER,
        )
    )
)
_MYSQL = re.compile(
    "|".join(
        (
            _COMMENT,
            r"(?P<comment_hash>#[^\n]*)",
            r"(?P<ident>`(?:[^`]|``)*(?:`|\Z))",
            r"(?P<string>(?<![\w$])[XxBbNn]?'(?:[^'\\]|\\[\s\S]|'')*(?:'|\Z))",
            r"(?P<dstring>\"(?:[^\"\\]|\\[\s\S]|\"\")*(?:\"|\Z))",
            _NUMBER,
        )
    )
)
_OPERATION = re.compile(r"[\s(]*([A-Za-z]{1,20})\b")


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "ident":
        return match.group(0)
    if kind in ("comment", "comment_hash"):
        return " "
    return PLACEHOLDER


def scrub_sql(sql: str, max_length: int, vendor: str = "postgresql") -> str:
    """``sql`` without literals or comments, at most ``max_length`` characters."""
    pattern = _MYSQL if vendor == "mysql" else _STANDARD
    return pattern.sub(_replace, sql[:max_length]).strip()[:max_length]


def operation_name(scrubbed: str) -> str | None:
    """The statement's first keyword (``SELECT``, ``INSERT``...), upper-cased, if it has one."""
    match = _OPERATION.match(scrubbed)
    return match.group(1).upper() if match else None
