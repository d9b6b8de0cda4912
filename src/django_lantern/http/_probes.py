"""Which requests ``LanternMiddleware`` answers itself: ``/healthz``, ``/readyz``
(and ``/readyz/<check>``) and ``/metrics``, at the paths ``LANTERN`` names.

They are answered before any other middleware can redirect or refuse a probe,
and their route label is the path (without its trailing slash), since no URL
pattern matched them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings
    from django_lantern.context import RequestContext

HEALTHZ, READYZ, METRICS = "healthz", "readyz", "metrics"


def probe_kind(path: str, cfg: LanternSettings) -> str | None:
    """``HEALTHZ``, ``READYZ`` or ``METRICS`` for a probe path, else None."""
    if path not in cfg.probe_paths:
        # /readyz/<check>: the readiness view validates the name (404 for an unknown one).
        prefix = cfg.readyz_check_prefix
        return READYZ if prefix and path.startswith(prefix) else None
    if path in cfg.healthz_paths:
        return HEALTHZ
    if path in cfg.readyz_paths:
        return READYZ
    return METRICS


def classify(request: HttpRequest, cfg: LanternSettings, ctx: RequestContext) -> str | None:
    """The probe kind of this request, or None; a probe's route is its path."""
    kind = probe_kind(request.path_info, cfg)
    if kind is not None:
        route = request.path_info.rstrip("/") or "/"
        prefix = cfg.readyz_check_prefix
        # /readyz/<check> is one route label, whatever name was asked for.
        ctx.probe_route = prefix + "<check>" if prefix and route.startswith(prefix) else route
    return kind
