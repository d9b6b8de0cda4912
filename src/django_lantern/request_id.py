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

from django_lantern.networks import peer_in

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings
    from django_lantern.context import RequestContext

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


def refuse_client_trace_id(request: HttpRequest, ctx: RequestContext, cfg: LanternSettings) -> bool:
    """Undo ``REQUEST_ID_FROM_TRACE`` when the trace id came from a peer we do not trust.

    A ``traceparent`` is as client-chosen as ``X-Request-Id``: without this,
    three requests sending the same trace id would share one request id. A
    trace id the tracer generated itself (no incoming ``traceparent``) is
    still used. True when the id was changed back.
    """
    generated = request.__dict__.get("_lantern_generated_id")
    if generated is None or ctx.request_id == generated or peer_may_choose_id(request, cfg):
        return False
    # Imported here: tracing imports the package's __init__, which imports this module.
    from django_lantern.tracing import incoming_trace_id

    if ctx.request_id != incoming_trace_id(request.META):
        return False
    ctx.request_id = generated
    request.request_id = generated  # type: ignore[attr-defined]
    return True
