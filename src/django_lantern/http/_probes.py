"""The one probe rule: which paths are ``/healthz``, ``/readyz`` (and ``/readyz/<check>``), ``/metrics``
and ``/statusz``.

Every path that treats probes apart calls :func:`probe_kind` (or
:func:`untraced_probe`): the middleware, which answers them before any other
middleware can redirect or refuse a probe; tracing and the Sentry sampler,
which start no span or transaction for them; and the ASGI handler, which
answers them on the event loop. Their route label is the path without its
trailing slash, since no URL pattern matched them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.conf import LanternSettings
    from django_lantern.context import RequestContext

HEALTHZ, READYZ, METRICS, STATUS = "healthz", "readyz", "metrics", "status"
# What an orchestrator or a load balancer polls (a scrape of /metrics or /statusz is not a health probe).
HEALTH_PROBES = frozenset({HEALTHZ, READYZ})


def probe_kind(path: str, cfg: LanternSettings) -> str | None:
    """``HEALTHZ``, ``READYZ``, ``METRICS`` or ``STATUS`` for a probe path (``path_info``), else None."""
    if path not in cfg.probe_paths:
        # /readyz/<check>: the readiness view validates the name (404 for an unknown one).
        prefix = cfg.readyz_check_prefix
        return READYZ if prefix and path.startswith(prefix) else None
    if path in cfg.healthz_paths:
        return HEALTHZ
    if path in cfg.readyz_paths:
        return READYZ
    return METRICS if path in cfg.metrics_paths else STATUS


def untraced_probe(path: str, cfg: LanternSettings) -> bool:
    """True for a probe that gets no server span and no Sentry transaction (unless ``TRACE_PROBES``)."""
    return not cfg.trace_probes and probe_kind(path, cfg) is not None


def scope_path_info(scope: Mapping[str, Any]) -> str | None:
    """An ASGI HTTP scope's path without its ``root_path``, as Django's ``path_info``; None if not HTTP."""
    if scope.get("type") != "http":
        return None
    path, root = scope.get("path"), scope.get("root_path") or ""
    if not isinstance(path, str):
        return None
    return path[len(root) :] if isinstance(root, str) and root and path.startswith(root) else path


def classify(request: HttpRequest, cfg: LanternSettings, ctx: RequestContext) -> str | None:
    """The probe kind of this request, or None; a probe's route is its path."""
    kind = probe_kind(request.path_info, cfg)
    if kind is not None:
        route = request.path_info.rstrip("/") or "/"
        prefix = cfg.readyz_check_prefix
        # /readyz/<check> is one route label, whatever name was asked for.
        ctx.probe_route = prefix + "<check>" if prefix and route.startswith(prefix) else route
    return kind
