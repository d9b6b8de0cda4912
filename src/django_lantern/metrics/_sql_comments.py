"""SQL that says where it came from: ``LANTERN["SQL_COMMENTS"]`` (docs/sql-comments.md).

Opt-in. With the setting empty (the default) nothing here runs and no
connection gets a wrapper for it. With keys named, each alias's execute
wrapper (``metrics/_db.py``) gets one more layer, :func:`wrapper`, which
appends a comment in the sqlcommenter format to every statement that is a
string: ``SELECT ... /*request_id='…',route='%2Forgs%2F%3Cslug%3Aslug%3E%2F'*/``.
The layer sits inside the query span's, so a span keeps the statement as the
code wrote it.

The format (https://google.github.io/sqlcommenter/spec/): ``key='value'``
pairs sorted by key and joined by commas; each key and value URL-encoded
(every byte but letters, digits and ``_.-~``), then ``'`` escaped with a
backslash. Encoding is what keeps a hostile value inside the comment: ``*/``,
quotes, newlines and NUL all become ``%XX``. A statement that already holds a
comment (``/*`` or ``--`` anywhere, literals included) is left as it is, as the
spec requires; a final ``;`` stays last, after the comment. A statement run
with parameters has its placeholders parsed by the driver, so the comment's
``%`` are doubled there (``%%``), as Django's own statements do.

Cost: the comment is built once per context (a request, a task run, a
command, a ``bind()``) and kept on it (``RequestContext.sql_comment``); it is
rebuilt only when the route becomes known (URL resolution happens after the
first middleware may have queried) or the current span changes. A query then
pays a context look-up, two identity checks and one string concatenation.
``callsite`` is the exception: the frame that ran the query is found by a walk
up the stack on every query that gets a comment (see the docs for its measured cost).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from types import CodeType, FrameType
from typing import Any
from urllib.parse import quote

from django_lantern._errors import report_internal_error
from django_lantern.context import UNKNOWN, RequestContext, current
from django_lantern.metrics._callsite import user_frame

# Django's execute wrapper: (execute, sql, params, many, context) -> the cursor's result.
ExecuteWrapper = Callable[[Callable[..., Any], Any, Any, bool, Mapping[str, Any]], Any]

# A value longer than this is cut before encoding: a comment is for reading, and
# every byte of it travels with every statement.
MAX_VALUE_LENGTH = 256


def encode(text: str) -> str:
    """sqlcommenter's serialization of one key or value: URL-encoded, then ``'`` escaped."""
    # A lone surrogate cannot be UTF-8: it is written as "?" rather than failing the query.
    return quote(text[:MAX_VALUE_LENGTH], safe="", errors="replace").replace("'", "\\'")


def pair(key: str, value: str) -> str:
    """One ``key='value'``, both serialized."""
    return f"{encode(key)}='{encode(value)}'"


def serialize(pairs: Mapping[str, str]) -> str:
    """``/*key='value',...*/`` with the keys sorted; "" for no pairs."""
    if not pairs:
        return ""
    return "/*" + ",".join(pair(key, value) for key, value in sorted(pairs.items())) + "*/"


# The end of a statement that needs more than a concatenation: blanks, or a final ";".
_TRAILING = frozenset(" \t\r\n\f\v;")


def append(sql: str, comment: str) -> str:
    """``sql`` with ``comment`` appended as the spec says: not at all when the statement
    already has a comment, before a final ``;``."""
    if not sql or not comment or "/*" in sql or "--" in sql:
        return sql
    return _placed(sql, comment)


def _placed(sql: str, comment: str) -> str:
    """``comment`` at the end of ``sql`` (both not empty, ``sql`` without a comment), before a final ``;``."""
    if sql[-1] not in _TRAILING:  # Django's statements: one concatenation
        return f"{sql} {comment}"
    end = sql.rstrip()
    if end.endswith(";"):
        return f"{end[:-1].rstrip()} {comment};"
    return f"{end} {comment}"


def traceparent(ctx: RequestContext) -> str | None:
    """The W3C traceparent of the context's span (the request's server span), when it has one."""
    if ctx.trace_id == UNKNOWN or ctx.span_id == UNKNOWN:
        return None
    return f"00-{ctx.trace_id}-{ctx.span_id}-{'01' if ctx.trace_sampled else '00'}"


def context_pairs(keys: tuple[str, ...], ctx: RequestContext) -> dict[str, str]:
    """What the context says for each key asked for; a key with nothing to say is left out."""
    known: dict[str, str] = {}
    for key in keys:
        if key == "route":
            value: Any = ctx.route
            value = None if value == UNKNOWN else value
        elif key == "request_id":
            value = ctx.request_id
        elif key == "task":
            value = ctx.fields.get("task_name")
        elif key == "command":
            value = ctx.fields.get("command")
        elif key == "traceparent":
            value = traceparent(ctx)
        else:  # callsite: per query, not per context
            continue
        if value is not None and value != "":
            known[key] = str(value)
    return known


class Built:
    """One context's comment, and what it was built from (identity-checked per query)."""

    __slots__ = ("body", "doubled", "doubled_tail", "match", "plain", "plain_tail", "span_id")

    def __init__(self, match: object, span_id: str, pairs: Mapping[str, str]) -> None:
        self.match = match
        self.span_id = span_id
        # The serialized pairs without the delimiters: "callsite" (first, sorted) is put in front per query.
        self.body = ",".join(pair(key, value) for key, value in sorted(pairs.items()))
        self.plain = f"/*{self.body}*/" if self.body else ""
        # With parameters the driver reads "%" as the start of a placeholder.
        self.doubled = self.plain.replace("%", "%%")
        # What a statement that needs no trimming gets, "" for no comment: one concatenation per query.
        self.plain_tail = f" {self.plain}" if self.body else ""
        self.doubled_tail = f" {self.doubled}" if self.body else ""


def _build(keys: tuple[str, ...], ctx: RequestContext, match: object) -> Built:
    built = Built(match, ctx.span_id, context_pairs(keys, ctx))
    ctx.sql_comment = built
    return built


# -- callsite -------------------------------------------------------------------------
# (code, line) -> the serialized pair; code objects and lines come from the program,
# not from input, bounded all the same.
_SITES: dict[tuple[CodeType, int], str] = {}
_CACHE_MAX = 4096
callsite = user_frame


def callsite_pair(frame: FrameType | None) -> str:
    """``callsite='path%2Fto%2Fviews.py%3A25'`` for the user's frame above ``frame``, "" when there is none."""
    site = callsite(frame)
    if site is None:
        return ""
    code, line, shown = site
    key = (code, line)
    found = _SITES.get(key)
    if found is None:
        found = pair("callsite", f"{shown}:{line}")
        if len(_SITES) < _CACHE_MAX:
            _SITES[key] = found
    return found


def _with_callsite(built: Built | None, frame: FrameType | None) -> str:
    site = callsite_pair(frame)
    body = "" if built is None else built.body
    if site and body:
        return f"/*{site},{body}*/"
    if site or body:
        return f"/*{site or body}*/"
    return ""


# -- the execute wrapper ----------------------------------------------------------------
def built_for(keys: tuple[str, ...], ctx: RequestContext) -> Built:
    """The context's comment, rebuilt when what it was built from has changed.

    The execute wrapper repeats these lines inline (a call costs about as much as they do).
    """
    built: Built | None = ctx.sql_comment
    request = ctx.request
    match = None if request is None else getattr(request, "resolver_match", None)
    if built is None or built.match is not match or built.span_id is not ctx.span_id:
        built = _build(keys, ctx, match)
    return built


def comment_for(keys: tuple[str, ...], want_callsite: bool, parsed: bool, frame: FrameType | None) -> str:
    """The comment for a statement run now (``parsed``: with parameters), "" for none."""
    ctx = current.get()
    built = built_for(keys, ctx) if ctx is not None and keys else None
    if want_callsite:
        text = _with_callsite(built, frame)
        return text.replace("%", "%%") if parsed else text
    if built is None:
        return ""
    return built.doubled if parsed else built.plain


def wrapper(names: tuple[str, ...]) -> ExecuteWrapper:
    """The layer that comments each statement, then runs it.

    Strings only: psycopg's ``sql.Composed``, bytes and the like go through untouched.
    A failure to comment runs the statement as written and is reported, never raised.
    A statement that already holds a comment is left as it is (so no stack walk for it).
    """
    keys = tuple(name for name in names if name != "callsite")
    if "callsite" in names:  # its own layer: the per-context one tests nothing more per query
        return _callsite_wrapper(keys)
    current_get = current.get

    def lantern_sql_comment(
        execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]
    ) -> Any:
        if isinstance(sql, str) and sql and "/*" not in sql and "--" not in sql:
            try:
                if (ctx := current_get()) is not None:
                    # built_for(), comment_for() and _placed()'s usual case inlined: a call costs as much.
                    built = ctx.sql_comment
                    request = ctx.request
                    match = None if request is None else getattr(request, "resolver_match", None)
                    if built is None or built.match is not match or built.span_id is not ctx.span_id:
                        built = _build(keys, ctx, match)
                    if sql[-1] not in _TRAILING:
                        sql += built.doubled_tail if many or params is not None else built.plain_tail
                    elif built.plain:
                        sql = _placed(sql, built.doubled if many or params is not None else built.plain)
            except Exception as exc:
                report_internal_error("sql_comments", exc)
        return execute(sql, params, many, context)

    return lantern_sql_comment


def _callsite_wrapper(keys: tuple[str, ...]) -> ExecuteWrapper:
    """:func:`wrapper` with ``callsite`` among the keys: the user's frame is found per query."""
    getframe = sys._getframe

    def lantern_sql_comment(
        execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]
    ) -> Any:
        if isinstance(sql, str) and sql and "/*" not in sql and "--" not in sql:
            try:
                comment = comment_for(keys, True, many or params is not None, getframe(1))
                if comment:
                    sql = _placed(sql, comment)
            except Exception as exc:
                report_internal_error("sql_comments", exc)
        return execute(sql, params, many, context)

    return lantern_sql_comment
