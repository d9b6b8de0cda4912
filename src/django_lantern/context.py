"""Per-request context, held in a ``contextvars.ContextVar``.

One variable holds one small object per request. It is set by
``LanternMiddleware`` and reset with its token in ``finally``, so nothing
leaks into the next request served by the same thread or event-loop task.
Threads started by ``sync_to_async`` see it because asgiref copies the context.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django_lantern._cost import Cost

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["UNKNOWN", "RequestContext", "get_context", "get_request_id"]

# "Not known", one spelling per meaning. In log fields: no request, no route
# matched (yet), no trace.
UNKNOWN = "-"
# A name or label value that could not be read (a task's name, a cache alias,
# the release): a word, since "-" would read as a missing value on a dashboard.
UNKNOWN_LABEL = "unknown"

# What the log filter adds to every record (and what bind() may not override).
CONTEXT_FIELDS = ("request_id", "user_id", "method", "path", "route", "trace_id", "span_id")

# The attributes of every ``LogRecord`` on this Python, plus those the standard
# formatters add (``message``, ``asctime``) and Python 3.12's ``taskName``: an
# ``extra`` with one of these names makes logging raise, and an attribute that
# is not one of them came from ``extra``, a filter or ``bind()``.
LOG_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Fields added by ``django_lantern.bind()``; a mapping is never changed once a
# context holds it (a bind installs a new one), so readers need no lock.
NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


class RequestContext:
    """What is known about the current request; read by log filters and integrations."""

    __slots__ = (
        "cost",
        "fields",
        "held",
        "method",
        "path",
        "probe_route",
        "request",
        "request_id",
        "secrets",
        "span_id",
        "sql_comment",
        "trace_id",
        "trace_sampled",
        "user_id",
    )

    def __init__(
        self, request_id: str, method: str, path: str, request: HttpRequest | None, cost: Cost | None = None
    ) -> None:
        self.request_id = request_id
        self.method = method
        self.path = path
        self.request = request
        # None until known; the access log resolves it at the end of the request.
        self.user_id: Any = None
        self.trace_id = UNKNOWN
        self.span_id = UNKNOWN
        # The trace's sampled flag, where tracing knows it (Cloud Logging's traceSampled).
        self.trace_sampled: bool | None = None
        # Set for /healthz, /readyz and /metrics, which the middleware answers
        # before URL resolution: "/healthz", as their metrics label says.
        self.probe_route: str | None = None
        self.fields = NO_FIELDS
        # A task run's argument values under sensitive parameter names
        # (``scrubbing.argument_secrets``), redacted in every sink while it runs.
        self.secrets: tuple[str, ...] = ()
        # The run's buffered DEBUG calls while LANTERN["DEBUG_ON_ERROR"] is on (``logging/_held.py``).
        self.held: Any = None
        # The SQL comment built for this context (``metrics._sql_comments``), kept
        # so that it is built once, not per query; a derived context builds its own.
        self.sql_comment: Any = None
        # What the scope cost so far (``_cost.py``): its own, or the scope it is nested in.
        self.cost = Cost() if cost is None else cost

    def derive(self, request_id: str, fields: Mapping[str, Any], cost: Cost | None = None) -> RequestContext:
        """A copy with another id and fields, for a nested ``bind()``; ``self`` is unchanged.
        The copy adds to ``self``'s cost unless given one of its own (a task run, a command)."""
        child = RequestContext(request_id, self.method, self.path, self.request, self.cost if cost is None else cost)
        child.user_id = self.user_id
        child.trace_id = self.trace_id
        child.span_id = self.span_id
        child.trace_sampled = self.trace_sampled
        child.probe_route = self.probe_route
        child.secrets = self.secrets
        child.held = self.held
        child.fields = fields
        return child

    @property
    def route(self) -> str:
        """The route, as metrics, logs and spans all say it: the matched URL
        pattern once URL resolution has happened, spelt by :func:`route_template`
        (``/orgs/<slug:slug>/``, ``/`` for the root pattern), the probe's path
        without its trailing slash, else ``UNKNOWN`` (no pattern matched, or not yet)."""
        if self.probe_route is not None:
            return self.probe_route
        match = getattr(self.request, "resolver_match", None)
        if match is None:
            return UNKNOWN
        raw = match.route
        return _ROUTES.get(raw) or route_template(raw)


# Django's route (``resolver_match.route``) -> ours; routes come from the
# URLconf, not the client, so this stays small; the bound is for safety.
_ROUTES: dict[str, str] = {}
_ROUTES_MAX = 4096
# A named group of a re_path() route.
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")


def route_template(raw: str) -> str:
    """One spelling for every route: a path template with a leading slash.

    Django gives ``path()`` routes without it (``accounts/login/``, ``""`` for
    the root) and ``re_path()`` routes as regular expressions (the admin's
    ``admin/(?P<app_label>auth|tasks)/$``); those read ``/admin/<app_label>/``.
    """
    route = raw
    if "(" in route or "$" in route or "^" in route or "\\" in route:
        route = _readable_regex(route)
    route = "/" + route.lstrip("/")
    if len(_ROUTES) < _ROUTES_MAX:
        _ROUTES[raw] = route
    return route


def _readable_regex(pattern: str) -> str:
    """``(?P<name>...)`` as ``<name>``, anchors dropped, escaped characters unescaped."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        group = _NAMED_GROUP.match(pattern, i)
        if group is not None:
            out.append(f"<{group.group(1)}>")
            i = _group_end(pattern, group.end())
            continue
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            if pattern[i + 1] == "Z" and i + 2 == len(pattern):
                break
            out.append(pattern[i + 1])
            i += 2
            continue
        if not ((char == "^" and i == 0) or (char == "$" and i == len(pattern) - 1)):
            out.append(char)
        i += 1
    return "".join(out).replace("^", "")


def _group_end(pattern: str, i: int) -> int:
    """The index just past the parenthesis closing the group whose body starts at ``i``."""
    depth = 1
    in_class = False
    while i < len(pattern) and depth:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        i += 1
    return i


current: ContextVar[RequestContext | None] = ContextVar("django_lantern_request", default=None)


def get_context() -> RequestContext | None:
    """The current request's context, or ``None`` outside a request."""
    return current.get()


def get_request_id() -> str:
    """The current request id, or ``"-"`` outside a request."""
    ctx = current.get()
    return ctx.request_id if ctx is not None else UNKNOWN
