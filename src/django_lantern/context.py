"""Per-request context, held in a ``contextvars.ContextVar``.

One variable holds one small object per request. It is set by
``LanternMiddleware`` and reset with its token in ``finally``, so nothing
leaks into the next request served by the same thread or event-loop task.
Threads started by ``sync_to_async`` see it because asgiref copies the context.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

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
# The route label of a request that matched no URL pattern (the dashboards and
# alert rules in deploy/ name it), told apart from a route that could not be read.
UNMATCHED_ROUTE = "<unmatched>"

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
        "fields",
        "method",
        "path",
        "probe_route",
        "request",
        "request_id",
        "secrets",
        "span_id",
        "trace_id",
        "trace_sampled",
        "user_id",
    )

    def __init__(self, request_id: str, method: str, path: str, request: HttpRequest | None) -> None:
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

    def derive(self, request_id: str, fields: Mapping[str, Any]) -> RequestContext:
        """A copy with another id and fields, for a nested ``bind()``; ``self`` is unchanged."""
        child = RequestContext(request_id, self.method, self.path, self.request)
        child.user_id = self.user_id
        child.trace_id = self.trace_id
        child.span_id = self.span_id
        child.trace_sampled = self.trace_sampled
        child.probe_route = self.probe_route
        child.secrets = self.secrets
        child.fields = fields
        return child

    @property
    def route(self) -> str:
        """The route, as metrics, logs and spans all say it: the matched URL
        pattern once URL resolution has happened (``/`` for the root pattern),
        the probe's path without its trailing slash, else ``UNKNOWN``."""
        if self.probe_route is not None:
            return self.probe_route
        match = getattr(self.request, "resolver_match", None)
        if match is None:
            return UNKNOWN
        # The root pattern's route is ""; say "/" as the metrics label does.
        return match.route or "/"


current: ContextVar[RequestContext | None] = ContextVar("django_lantern_request", default=None)


def get_context() -> RequestContext | None:
    """The current request's context, or ``None`` outside a request."""
    return current.get()


def get_request_id() -> str:
    """The current request id, or ``"-"`` outside a request."""
    ctx = current.get()
    return ctx.request_id if ctx is not None else UNKNOWN
