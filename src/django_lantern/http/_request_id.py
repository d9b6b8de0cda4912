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


def peer_may_choose_id(request: HttpRequest, cfg: LanternSettings) -> bool:
    """True when this peer's request id (header, or trace id) may be believed."""
    if not cfg.trust_request_id_header:
        return False
    trusted = cfg.request_id_trusted_networks
    return trusted is None or peer_in(request.META, trusted)


def from_headers(request: HttpRequest, cfg: LanternSettings, trusted: bool) -> tuple[str | None, int | None]:
    """``(id, None)`` for a valid id sent by a ``trusted`` peer, ``(None, length)`` for an
    invalid one (logged later by length only), ``(None, None)`` when none counts."""
    if not trusted:
        return None, None
    meta = request.META
    incoming = meta.get(cfg.request_id_meta_key)
    if incoming is None:
        for key in cfg.request_id_fallback_meta_keys:
            incoming = meta.get(key)
            if incoming is not None:
                break
    if incoming is None:
        return None, None
    # An empty header counts as sent: it is not 1 to 128 characters, so it
    # is replaced with a warning like any other invalid value.
    incoming = str(incoming)
    rejected = request_ids.rejected_length(incoming)
    return (incoming, None) if rejected is None else (None, rejected)


def trace_id_may_be_used(request: HttpRequest, cfg: LanternSettings, trace_id: str | None, trusted: bool) -> bool:
    """True when ``REQUEST_ID_FROM_TRACE`` may make ``trace_id`` the request id.

    A trace id that came in from a peer we do not trust is refused (else three
    requests sending the same trace id would share one request id). One the
    tracer generated itself (no valid incoming ``traceparent``) is always ours
    to use.
    """
    if not cfg.request_id_from_trace or trace_id is None:
        return False
    if trusted:
        return True
    return trace_id != incoming_trace_id(request.META)


def choose(request: HttpRequest, cfg: LanternSettings, trace_id: str | None) -> tuple[str, int | None]:
    """The request id, chosen once: a trusted header, then the trace id where the
    trust rules allow it, then a fresh one; and the length of a rejected header."""
    trusted = peer_may_choose_id(request, cfg)  # decided once: both rules below depend on it
    header_id, rejected_length = from_headers(request, cfg, trusted)
    if header_id is not None:
        return header_id, None
    if trace_id is not None and trace_id_may_be_used(request, cfg, trace_id, trusted):
        return trace_id, rejected_length
    return request_ids.generate(), rejected_length


def open_context(
    request: HttpRequest, cfg: LanternSettings, trace_id: str | None = None, span_id: str | None = None
) -> tuple[RequestContext, int | None]:
    """The context of an HTTP request, its id chosen once and for all (see :func:`choose`),
    and the length of a rejected incoming id, if any.

    ``trace_id`` and ``span_id`` are the server span's, or an incoming
    ``traceparent``'s trace id when there is no span.
    """
    rid, rejected_length = choose(request, cfg, trace_id)
    request.request_id = rid  # type: ignore[attr-defined]
    ctx = RequestContext(rid, request.method or "", request.path, request)
    if trace_id is not None:
        ctx.trace_id = trace_id
    if span_id is not None:
        ctx.span_id = span_id
    return ctx, rejected_length
