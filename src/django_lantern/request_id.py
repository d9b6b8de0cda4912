"""Parse, validate and generate request ids.

An incoming id is accepted only if it is 1 to 128 characters from a safe set:
ASCII letters, digits and ``- _ . :``. That admits hex ids, hyphenated UUIDs,
ULIDs, nginx ``$request_id``, AWS ``Root=1-...`` style values minus ``=``, and
keeps out everything that could forge a log field or line (spaces, quotes,
``=``, control characters, non-ASCII). It must also hold at least one letter
or digit: ``-`` is what logs say for "no request", and ``...`` or ``---`` would
be just as useless to search for.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from django_lantern.http._networks import peer_in

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings

__all__ = ["MAX_LENGTH", "generate", "is_valid"]

MAX_LENGTH = 128
# The look-ahead (at least one letter or digit) is bounded by the same length cap.
_VALID = re.compile(rf"(?=[._:\-]{{0,{MAX_LENGTH - 1}}}[A-Za-z0-9])[A-Za-z0-9._:\-]{{1,{MAX_LENGTH}}}", re.ASCII)

# The rejected value itself is never logged: only its length.
REJECTED_MESSAGE = "Rejected an invalid incoming request id (length %d); generated a new one."


def is_valid(value: str) -> bool:
    """True when ``value`` may be used as a request id as it is."""
    return _VALID.fullmatch(value) is not None


def generate() -> str:
    """A fresh random id: 32 lowercase hex characters (128 bits)."""
    return os.urandom(16).hex()


# -- whose id to believe ------------------------------------------------------
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
    return (incoming, None) if is_valid(incoming) else (None, len(incoming))


def trace_id_may_be_used(request: HttpRequest, cfg: LanternSettings, trace_id: str | None, trusted: bool) -> bool:
    """True when ``REQUEST_ID_FROM_TRACE`` may make ``trace_id`` the request id.

    A ``traceparent`` is as client-chosen as ``X-Request-Id``: a trace id that
    came in from a peer we do not trust is refused (else three requests sending
    the same trace id would share one request id). One the tracer generated
    itself (no valid incoming ``traceparent``) is always ours to use.
    """
    if not cfg.request_id_from_trace or trace_id is None:
        return False
    if trusted:
        return True
    from django_lantern.http._trace_context import incoming_trace_id  # no OpenTelemetry needed

    return trace_id != incoming_trace_id(request.META)


def choose(request: HttpRequest, cfg: LanternSettings, trace_id: str | None) -> tuple[str, int | None]:
    """The request id, chosen once: a trusted header, then the trace id where the
    trust rules allow it, then a fresh one; and the length of a rejected header."""
    trusted = peer_may_choose_id(request, cfg)  # decided once: both rules below depend on it
    header_id, rejected_length = from_headers(request, cfg, trusted)
    if header_id is not None:
        return header_id, None
    if trace_id_may_be_used(request, cfg, trace_id, trusted):
        return trace_id, rejected_length  # type: ignore[return-value]  # checked above
    return generate(), rejected_length
