"""The one probe rule: which paths are ``/healthz``, ``/readyz`` (and ``/readyz/<check>``), ``/metrics``,
``/statusz`` and ``/threadz``.

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
    from django.http import HttpResponse

    from django_lantern.conf import LanternSettings

HEALTHZ, READYZ, METRICS, STATUS, THREADS = "healthz", "readyz", "metrics", "status", "threads"
# What an orchestrator or a load balancer polls (a scrape of /metrics or /statusz is not a health probe).
HEALTH_PROBES = frozenset({HEALTHZ, READYZ})
# What every probe answers; anything else gets :func:`not_allowed`.
PROBE_METHODS = ("GET", "HEAD")


def probe_kind(path: str, cfg: LanternSettings) -> str | None:
    """``HEALTHZ``, ``READYZ``, ``METRICS``, ``STATUS`` or ``THREADS`` for a probe path (``path_info``), else None."""
    if path not in cfg.probe_paths:
        # /readyz/<check>: the readiness view validates the name (404 for an unknown one).
        prefix = cfg.readyz_check_prefix
        return READYZ if prefix and path.startswith(prefix) else None
    if path in cfg.healthz_paths:
        return HEALTHZ
    if path in cfg.readyz_paths:
        return READYZ
    if path in cfg.metrics_paths:
        return METRICS
    return STATUS if path in cfg.status_paths else THREADS


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


def probe_route(path: str, cfg: LanternSettings) -> str:
    """A probe's route label: its path (``path_info``) without the trailing slash, one label
    for every ``/readyz/<check>``."""
    route = path.rstrip("/") or "/"
    prefix = cfg.readyz_check_prefix
    # /readyz/<check> is one route label, whatever name was asked for.
    return prefix + "<check>" if prefix and route.startswith(prefix) else route


def not_allowed() -> HttpResponse:
    """The one 405 of ``/healthz``, ``/readyz`` and ``/metrics``: a JSON body that says which
    methods are allowed (Django's own 405 is an empty ``text/html``), ``Allow``, never cached."""
    # Imported here: settings files import this module (the Sentry sampler), and
    # django.http imports django.db.models.
    from django.http import JsonResponse

    response = JsonResponse({"error": "method not allowed", "allowed": list(PROBE_METHODS)}, status=405)
    response["Allow"] = ", ".join(PROBE_METHODS)
    response["Cache-Control"] = "no-store"
    response["Content-Length"] = str(len(response.content))
    return response
