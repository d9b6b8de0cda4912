"""Per-request context, held in a ``contextvars.ContextVar``.

One variable holds one small object per request. It is set by
``LanternMiddleware`` and reset with its token in ``finally``, so nothing
leaks into the next request served by the same thread or event-loop task.
Threads started by ``sync_to_async`` see it because asgiref copies the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings

__all__ = ["UNKNOWN", "RequestContext", "get_context", "get_request_id"]

# The one spelling of "not known" in log fields: no request, no route matched
# (yet), no trace.
UNKNOWN = "-"

# What the log filter adds to every record (and what bind() may not override).
CONTEXT_FIELDS = ("request_id", "user_id", "method", "path", "route", "trace_id", "span_id")
# How the metrics label (and so the dashboards and alert rules in deploy/)
# spells ``UNKNOWN`` for a route: "-" would read as a missing label there.
UNMATCHED_ROUTE = "<unmatched>"

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
        "span_id",
        "trace_id",
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
        # Set for /healthz, /readyz and /metrics, which the middleware answers
        # before URL resolution: "/healthz", as their metrics label says.
        self.probe_route: str | None = None
        self.fields = NO_FIELDS

    @classmethod
    def open(
        cls, request: HttpRequest, cfg: LanternSettings, trace_id: str | None = None, span_id: str | None = None
    ) -> tuple[RequestContext, int | None]:
        """The context of an HTTP request, its id chosen once and for all (see
        ``request_id.choose``), and the length of a rejected incoming id, if any.

        ``trace_id`` and ``span_id`` are the server span's, or an incoming
        ``traceparent``'s trace id when there is no span.
        """
        from django_lantern import request_id as request_ids  # it imports networks, which imports conf

        rid, rejected_length = request_ids.choose(request, cfg, trace_id)
        request.request_id = rid  # type: ignore[attr-defined]
        ctx = cls(rid, request.method or "", request.path, request)
        if trace_id is not None:
            ctx.trace_id = trace_id
        if span_id is not None:
            ctx.span_id = span_id
        return ctx, rejected_length

    def derive(self, request_id: str, fields: Mapping[str, Any]) -> RequestContext:
        """A copy with another id and fields, for a nested ``bind()``; ``self`` is unchanged."""
        child = RequestContext(request_id, self.method, self.path, self.request)
        child.user_id = self.user_id
        child.trace_id = self.trace_id
        child.span_id = self.span_id
        child.probe_route = self.probe_route
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
