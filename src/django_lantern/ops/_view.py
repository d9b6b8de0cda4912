"""The operations page: an ordinary view behind the session, CSRF and auth middleware.

Staff only by default (``LANTERN["OPS_PERMISSION"]`` names a permission
instead); anonymous users are sent to the login page, others get 403. The
template is the package's own, rendered by an engine of its own, so the page
looks the same whatever the project's ``TEMPLATES`` say, and needs no static
files: its CSS and charts are inline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template import Context, Engine
from django.views.decorators.cache import never_cache

from django_lantern.conf import get_settings
from django_lantern.logging._levels import (
    DEFAULT_SECONDS,
    LEVEL_NAMES,
    LevelChangeError,
    current_overrides,
    level_name,
    parse_duration,
    reset,
    set_level,
)
from django_lantern.ops import _page, _record, _store
from django_lantern.request_id import rejected_length

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHART_WIDTH, CHART_HEIGHT = 300, 60


@cache
def _engine() -> Engine:
    return Engine(dirs=[str(TEMPLATES)], autoescape=True, debug=False)


def allowed(user: Any) -> bool:
    """The one rule for who may see the page and use its form."""
    if not getattr(user, "is_active", False):
        return False
    permission = get_settings().ops_permission
    return bool(user.has_perm(permission)) if permission else bool(getattr(user, "is_staff", False))


@never_cache
def ops(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not allowed(user):
        raise PermissionDenied("The operations page is for staff.")
    _record.ensure_flushing()
    notice, status = None, 200
    if request.method == "POST":
        notice, failed = _change_level(request)
        status = 400 if failed else 200
    elif request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    wanted = request.GET.get("request_id", "").strip()
    # The id box takes what a request id may be (the same rule as incoming headers), nothing else.
    request_id = wanted if wanted and rejected_length(wanted) is None else None
    model = _page.build(request_id=request_id or "")
    model.update(
        searched=wanted[:200],
        invalid_id=bool(wanted) and request_id is None,
        notice=notice,
        charts=_charts(model["history"]),
        history_known=any(row["known"] for row in model["history"]),
        overrides=_overrides(),
        level_names=list(LEVEL_NAMES),
        default_minutes=DEFAULT_SECONDS // 60,
        csrf_token=get_token(request),
        generated=_clock(model["now"]),
    )
    for group in (*model["exceptions"], *model["n_plus_one"], *model["slow_queries"]):
        group["first_at"], group["last_at"] = _clock(group["first"]), _clock(group["last"])
    for row in (*model["slow_requests"], *(model["found"] or ())):
        row["when"] = _clock(row["at"])
    for proc in model["processes"]:
        proc["uptime"] = _duration(model["now"] - proc["start"])
    model["routes_as_of_text"] = _clock(model["routes_as_of"]) if model["routes_as_of"] else None
    model["this_process"]["uptime"] = _duration(model["now"] - model["this_process"]["start"])
    body = _engine().get_template("lantern_ops.html").render(Context(model))
    return HttpResponse(body, status=status)


def _change_level(request: HttpRequest) -> tuple[str, bool]:
    """The form: the same ``set_level``/``reset`` as ``manage.py lantern_loglevel``, audited with the user."""
    actor = f"user {request.user.pk} (ops page)"
    name = request.POST.get("logger", "").strip()[:200]
    try:
        if request.POST.get("action") == "reset":
            ended = reset(name or None, actor=actor)
            return (f"Reset {', '.join(ended)}." if ended else "No override was in force."), False
        duration = request.POST.get("duration", "").strip() or f"{DEFAULT_SECONDS // 60}m"
        override = set_level(name, request.POST.get("level", ""), seconds=parse_duration(duration), actor=actor)
    except LevelChangeError as exc:
        return str(exc), True
    except Exception as exc:  # the shared store is down: say so, as the page does for its own cache
        return f"The change was not made: the shared store did not answer ({type(exc).__name__}).", True
    return f"{override.logger} is {level_name(override.level)} until {_clock(override.expires_at)}.", False


def _overrides() -> list[dict[str, str]]:
    """The overrides in force, read from the levels' shared store under the page's deadline."""
    try:
        found = _store.bounded(current_overrides)
    except _store.CacheUnavailable:  # no shared store (the form says why when used), or it is down
        return []
    return [
        {"logger": o.logger, "level": level_name(o.level), "until": _clock(o.expires_at), "by": o.set_by} for o in found
    ]


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s"


def _charts(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Small line charts (inline SVG) of the last hour, one point per minute."""
    specs = [
        ("Requests per minute", [("all", "total", 1.0), ("4xx", "4xx", 1.0), ("5xx", "5xx", 1.0)], ""),
        ("Latency (ms)", [("p50", "p50", 1000.0), ("p95", "p95", 1000.0), ("p99", "p99", 1000.0)], " ms"),
    ]
    charts: list[dict[str, Any]] = []
    for title, series, unit in specs:
        lines, peak = [], 0.0
        for label, key, scale in series:
            values = [(i, row[key] * scale) for i, row in enumerate(history) if row["known"] and row[key] is not None]
            peak = max([peak, *(v for _, v in values)])
            lines.append((label, values))
        top = peak or 1.0
        step = CHART_WIDTH / max(1, len(history) - 1)
        drawn = []
        for n, (label, values) in enumerate(lines):
            points = " ".join(
                f"{i * step:.1f},{CHART_HEIGHT - v / top * (CHART_HEIGHT - 4) - 2:.1f}" for i, v in values
            )
            latest = values[-1][1] if values else None
            drawn.append({"label": label, "points": points, "latest": _fmt(latest, unit), "style": n})
        summary = "; ".join(f"{d['label']} now {d['latest']}" for d in drawn)
        charts.append(
            {"title": title, "lines": drawn, "peak": _fmt(peak, unit), "summary": summary, "id": f"chart{len(charts)}"}
        )
    return charts


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    return f"{value:.0f}{unit}" if value >= 10 or value == int(value) else f"{value:.1f}{unit}"
