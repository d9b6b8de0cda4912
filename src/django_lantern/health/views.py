"""The ``/healthz`` and ``/readyz`` responses.

They are built here and served twice: by ``LanternMiddleware`` before any other
middleware runs (so no ``ALLOWED_HOSTS``, HTTPS or trailing-slash redirect,
login or CSRF rule can get in a probe's way), and by ``django_lantern.urls``
for projects that turn the middleware's probe paths off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from django_lantern import shutdown
from django_lantern.health.registry import get_runner
from django_lantern.health.runner import CheckResult
from django_lantern.scrubbing import scrub_text

ALLOWED_METHODS = ("GET", "HEAD")


def _finish(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    # Answered before CommonMiddleware, which would set it: without it the
    # server falls back to chunked encoding. A HEAD answer states the length
    # the GET body would have, as RFC 9110 asks.
    response["Content-Length"] = str(len(response.content))
    if request.method == "HEAD":
        response.content = b""
    return response


def _not_allowed() -> HttpResponse:
    response = HttpResponseNotAllowed(ALLOWED_METHODS)
    response["Cache-Control"] = "no-store"
    return response


def healthz_response(request: HttpRequest) -> HttpResponse:
    """Liveness: answered from the process alone, no I/O."""
    if request.method not in ALLOWED_METHODS:
        return _not_allowed()
    return _finish(request, JsonResponse({"status": "ok"}))


def readiness_body(results: Sequence[CheckResult]) -> tuple[dict[str, Any], int]:
    """The body and HTTP status for a set of check results (see DESIGN.md)."""
    draining = shutdown.is_draining()
    ready = all(r.ok for r in results) and not draining
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
    for kind in ("db", "cache"):
        of_kind = [r for r in results if r.kind == kind]
        if of_kind:
            body[kind] = "ok" if all(r.ok for r in of_kind) else "down"
    checks: dict[str, Any] = {}
    for r in results:
        entry: dict[str, Any] = {"ok": r.ok, "ms": round(r.ms, 2)}
        if r.error:
            # A custom check's CheckFailed message is the author's text: scrub it
            # like every other sink, in case it quotes a DSN or a token.
            entry["error"] = scrub_text(r.error)
        checks[r.name] = entry
    body["checks"] = checks
    if draining:
        body["draining"] = True
    return body, 200 if ready else 503


def readyz_response(request: HttpRequest) -> HttpResponse:
    if request.method not in ALLOWED_METHODS:
        return _not_allowed()
    body, status = readiness_body(get_runner().run())
    return _finish(request, JsonResponse(body, status=status))


async def areadyz_response(request: HttpRequest) -> HttpResponse:
    if request.method not in ALLOWED_METHODS:
        return _not_allowed()
    body, status = readiness_body(await get_runner().arun())
    return _finish(request, JsonResponse(body, status=status))
