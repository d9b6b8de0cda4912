"""The id of one HTTP request, chosen once: whose incoming id to believe, and the context it opens.

A ``traceparent`` is as client-chosen as ``X-Request-Id``, so both go through
the same trust decision (``TRUST_REQUEST_ID_HEADER``,
``REQUEST_ID_TRUSTED_NETWORKS``), and a header value through
``request_id``'s one validation rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_lantern import request_id as request_ids
from django_lantern.context import RequestContext
from django_lantern.http._networks import peer_in
from django_lantern.http._trace_context import incoming_trace_id

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings


def trace_id_may_be_used(request: HttpRequest, cfg: LanternSettings, trace_id: str, trusted: bool) -> bool:
    """True when ``REQUEST_ID_FROM_TRACE`` may make ``trace_id`` the request id.

    A trace id that came in from a peer we do not trust is refused (else three
    requests sending the same trace id would share one request id). One the
    tracer generated itself (no valid incoming ``traceparent``) is always ours
    to use.
    """
    if not cfg.request_id_from_trace:
        return False
    if trusted:
        return True
    return trace_id != incoming_trace_id(request.META)


def open_context(
    request: HttpRequest, cfg: LanternSettings, trace_id: str | None = None, span_id: str | None = None
) -> tuple[RequestContext, int | None]:
    """The context of an HTTP request, and the length of a rejected incoming id, if any.

    The id is chosen once and for all: a valid header sent by a peer that may
    choose it, then the trace id where the trust rules allow it, then a fresh
    one. An invalid header is replaced, and logged later by length only.
    ``trace_id`` and ``span_id`` are the server span's, or an incoming
    ``traceparent``'s trace id when there is no span.
    """
    meta = request.META
    # Decided once: both the header and the trace id rule depend on it.
    trusted = cfg.trust_request_id_header and (
        cfg.request_id_trusted_networks is None or peer_in(meta, cfg.request_id_trusted_networks)
    )
    rid = rejected_length = None
    if trusted:
        incoming = meta.get(cfg.request_id_meta_key)
        if incoming is None:
            for key in cfg.request_id_fallback_meta_keys:
                incoming = meta.get(key)
                if incoming is not None:
                    break
        if incoming is not None:
            # An empty header counts as sent: it is not 1 to 128 characters, so it
            # is replaced with a warning like any other invalid value.
            incoming = str(incoming)
            rejected_length = request_ids.rejected_length(incoming)
            if rejected_length is None:
                rid = incoming
    if rid is None:
        if trace_id is not None and trace_id_may_be_used(request, cfg, trace_id, trusted):
            rid = trace_id
        else:
            rid = request_ids.generate()
    request.request_id = rid  # type: ignore[attr-defined]
    ctx = RequestContext(rid, request.method or "", request.path, request)
    if trace_id is not None:
        ctx.trace_id = trace_id
    if span_id is not None:
        ctx.span_id = span_id
    return ctx, rejected_length
