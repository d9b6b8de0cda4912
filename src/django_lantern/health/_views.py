"""The ``/healthz`` and ``/readyz`` responses.

They are built here and served twice: by ``LanternMiddleware`` before any other
middleware runs (so no ``ALLOWED_HOSTS``, HTTPS or trailing-slash redirect,
login or CSRF rule can get in a probe's way), and by ``django_lantern.urls``
for projects that turn the middleware's probe paths off.

Who sees the detail (each check's entry, ``?verbose``'s lines, the names of
the checks) is decided by the ``/metrics`` rule (``metrics._views.is_allowed``:
the bearer token or ``METRICS_ALLOWED_NETWORKS``); anyone else gets the
chapter's keys (``status``, ``db``, ``cache``) and the HTTP status.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from django_lantern._errors import report_internal_error
from django_lantern.conf import get_settings
from django_lantern.health import _probes as probes
from django_lantern.health._drain import is_draining
from django_lantern.health._registry import get_runner
from django_lantern.health._worker import CheckResult
from django_lantern.metrics import _recorder as recorder
from django_lantern.metrics._views import is_allowed
from django_lantern.scrubbing import scrub_text

ALLOWED_METHODS = ("GET", "HEAD")
# What every caller may see: the chapter's keys.
PUBLIC_KEYS = ("status", "db", "cache")


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


def readiness_body(
    results: Sequence[CheckResult], non_critical: Collection[str] = (), *, judged: bool = True
) -> tuple[dict[str, Any], int]:
    """The body and HTTP status for a set of check results (docs/health.md, "The readiness body").

    A check in ``non_critical`` is shown with ``"critical": false``; its failure
    counts against the status only when ``judged`` is False (a check asked for by name).
    """
    draining = is_draining()
    ready = all(r.ok or (judged and r.name in non_critical) for r in results) and not draining
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
        if r.name in non_critical:
            entry["critical"] = False
        checks[r.name] = entry
    body["checks"] = checks
    if draining:
        body["draining"] = True
    return body, 200 if ready else 503


@dataclass(frozen=True)
class _ReadinessPlan:
    names: list[str] | None  # None: every check
    non_critical: frozenset[str]
    judged: bool  # False for /readyz/<check>: the check's own state decides the status
    query: probes.ProbeQuery
    ignored_excludes: int = 0


def _plan(request: HttpRequest, check: str | None) -> _ReadinessPlan | HttpResponse:
    """What to run for this request, or the 400/404 answer; never raises on hostile input."""
    runner = get_runner()
    registered = [c.name for c in runner.checks]
    non_critical = frozenset(c.name for c in runner.checks if not c.critical)
    query = probes.parse_query(request.META.get("QUERY_STRING", ""))
    if query.error is not None:
        return JsonResponse({"status": "bad_request", "error": query.error}, status=400)
    if check is None:
        check = probes.check_from_path(request.path_info, get_settings().readyz_check_prefix)
    if check is not None:
        if not probes.is_known(check, registered):
            # Lists the real names to a caller who may see them; the requested one is never echoed back.
            found = {"status": "not_found", "checks": registered} if is_allowed(request) else {"status": "not_found"}
            return JsonResponse(found, status=404)
        return _ReadinessPlan([check], non_critical, False, query)
    if not query.exclude:
        return _ReadinessPlan(None, non_critical, True, query)
    names = [name for name in registered if name not in query.exclude]
    return _ReadinessPlan(names, non_critical, True, query, len(query.exclude - set(registered)))


def _answer(request: HttpRequest, plan: _ReadinessPlan, results: Sequence[CheckResult]) -> HttpResponse:
    body, status = readiness_body(results, plan.non_critical, judged=plan.judged)
    _publish(results, ready=_process_ready(plan, status, results))
    detail = is_allowed(request)
    if plan.query.verbose:
        text = (
            probes.verbose_text(body, status, plan.ignored_excludes) if detail else probes.verdict_line(status) + "\n"
        )
        return _finish(request, HttpResponse(text, content_type="text/plain; charset=utf-8", status=status))
    if not detail:
        body = {key: body[key] for key in PUBLIC_KEYS if key in body}
    return _finish(request, JsonResponse(body, status=status))


def _process_ready(plan: _ReadinessPlan, status: int, results: Sequence[CheckResult]) -> bool | None:
    """The verdict for the whole process (``lantern_readiness_up``), or None when this answer cannot give it.

    An unfiltered ``/readyz`` gives it. A filtered answer (``?exclude=``,
    ``/readyz/<check>``) gives it only when every critical check it left out
    has a result from an earlier answer of this process, and then counts
    those results too: an anonymous ``?exclude=db:default`` loop cannot hold
    the gauge at 1 while the database is down, and a readiness probe that
    leaves the migrations check to the startup probe (docs/health.md) still
    publishes the process's state.
    """
    if plan.judged and plan.names is None:
        return status == 200
    ran = {r.name for r in results}
    runner = get_runner()
    left_out = [c.name for c in runner.checks if c.critical and c.name not in ran]
    earlier = [runner.latest.get(name) for name in left_out]
    if any(result is None for result in earlier):
        return None
    ran_ready = all(r.ok or r.name in plan.non_critical for r in results) and not is_draining()
    return ran_ready and all(result is not None and result.ok for result in earlier)


def _publish(results: Sequence[CheckResult], *, ready: bool | None) -> None:
    """The readiness gauges (``lantern_readiness_*``; the overall one unless ``ready`` is None);
    a metrics fault never changes the answer."""
    try:
        recorder.readiness_answered(results, ready=ready)
    except Exception as exc:
        report_internal_error("metrics", exc)


def readyz_response(request: HttpRequest, check: str | None = None) -> HttpResponse:
    """``/readyz`` (``?exclude=``, ``?verbose``) and ``/readyz/<check>``; ``check`` defaults to the path's."""
    if request.method not in ALLOWED_METHODS:
        return _not_allowed()
    plan = _plan(request, check)
    if isinstance(plan, HttpResponse):
        return _finish(request, plan)
    return _answer(request, plan, get_runner().run(plan.names))


async def areadyz_response(request: HttpRequest, check: str | None = None) -> HttpResponse:
    if request.method not in ALLOWED_METHODS:
        return _not_allowed()
    plan = _plan(request, check)
    if isinstance(plan, HttpResponse):
        return _finish(request, plan)
    return _answer(request, plan, await get_runner().arun(plan.names))
