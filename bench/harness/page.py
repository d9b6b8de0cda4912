"""Stage ``page``: a realistic page over HTTP, the example project's task list, bare vs lantern.

``GET /orgs/acme/tasks/`` as the logged-in demo user (owner of ``acme``): the
session and the user are loaded from the database, the org's tasks are
queried, and ``tasks/task_list.html`` is rendered. ``settings_page`` is the
example's own settings; ``settings_pagebare`` the same without django-lantern.
Both gunicorns (sync workers) share one scratch SQLite database, seeded by
``migrate`` and ``seed_demo``; wrk sends the demo user's ``sessionid`` cookie.
Before timing, both must answer 200 with the task list (not a login redirect)
and lantern must write one access line per request.

``python -m harness.page`` (run by the stage in a subprocess) prepares the
database and prints the session cookie as JSON.
"""

from __future__ import annotations

import os
import random
from http.client import HTTPConnection
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from harness import http
from harness.djsetup import emit, protocol_stream, setup
from harness.stats import median

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "example"
ORG = "acme"
PATH = f"/orgs/{ORG}/tasks/"
# A task of acme's (seed_demo) that the list must show.
EXPECTED = "Wire /readyz into the load balancer"
CHECK_REQUESTS = 20


def prepare() -> None:
    """Migrate the scratch database, seed the demo data, log the demo user in; print the cookie."""
    out = protocol_stream()
    setup("page")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo", verbosity=0)
    client = Client()
    client.force_login(get_user_model().objects.get(username="demo"))
    emit(out, {"cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"})


def _get(url: str, cookie: str) -> tuple[int, str]:
    """One GET without following redirects (a login redirect must show as 302, not as the login page)."""
    parts = urlsplit(url)
    connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", parts.path, headers={"Cookie": cookie})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _access_lines(log_path: Path) -> int:
    if not log_path.exists():
        return 0
    return sum(1 for line in log_path.read_text(errors="replace").splitlines() if '"logger":"access"' in line)


def check(servers: dict[str, http.Server], cookie: str, log_path: Path) -> dict[str, Any]:
    """Both answer 200 with the task list; lantern writes one access line per request."""
    result: dict[str, Any] = {}
    for role, server in servers.items():
        status, body = _get(server.url, cookie)
        result[f"{role}_status"] = status
        result[f"{role}_body_bytes"] = len(body)
        result[f"{role}_task_list"] = EXPECTED in body and "<table>" in body
    before = _access_lines(log_path)
    for _ in range(CHECK_REQUESTS):
        _get(servers["lantern"].url, cookie)
    result["lantern_access_lines_per_request"] = (_access_lines(log_path) - before) / CHECK_REQUESTS
    problems = [
        f"{role} answered {result[f'{role}_status']}"
        + ("" if result[f"{role}_task_list"] else " without the task list")
        for role in servers
        if result[f"{role}_status"] != 200 or not result[f"{role}_task_list"]
    ]
    if result["lantern_access_lines_per_request"] != 1:
        problems.append(f"lantern wrote {result['lantern_access_lines_per_request']} access lines per request")
    if problems:
        result["error"] = "; ".join(problems)
    return result


def against() -> str:
    """The configuration served against bare Django: ``page`` (the example with lantern), or
    the one ``BENCH_PAGE_CONFIG`` names in its place (``pagefloor``: the floor on the same protocol)."""
    name = os.environ.get("BENCH_PAGE_CONFIG") or "page"
    if not (http.BENCH_DIR / "benchproj" / f"settings_{name}.py").is_file():
        raise SystemExit(f"BENCH_PAGE_CONFIG={name}: there is no benchproj/settings_{name}.py")
    return name


def _servers(workers: int, tmp: Path, log: IO[str]) -> dict[str, http.Server]:
    """Bare Django against :func:`against`."""
    served = against()
    return {
        role: http.Server(
            config,
            workers,
            tmp,
            log,
            multiproc=role == "lantern" and workers > 1,
            app="config.wsgi:application",
            path=PATH,
            pythonpath=(EXAMPLE_DIR,),
        )
        for role, config in (("bare", "pagebare"), ("lantern", served))
    }


def run(
    worker_counts: list[int],
    runs: int,
    rounds: int,
    seconds: int,
    connections: int,
    tmp: Path,
    log: IO[str],
    cookie: str,
) -> dict[str, Any]:
    """Per worker count, ``runs`` runs, each on freshly started servers: ``rounds`` interleaved
    rounds of ``seconds`` each. A run's figure is the median of its paired per-round
    ratios; the worker count's figure is the median over runs (issue 21: at least
    3 runs of 30 one-second rounds). The servers' CPU per request comes from /proc."""
    result: dict[str, Any] = {
        "path": PATH,
        "seconds": seconds,
        "rounds": rounds,
        "runs": runs,
        "connections": connections,
        "workers": {},
    }
    rng = random.Random(23)
    for workers in worker_counts:
        entries: list[dict[str, Any]] = []
        verified: dict[str, Any] = {}
        for run_no in range(1, runs + 1):
            servers = _servers(workers, tmp, log)
            verified = check(servers, cookie, tmp / f"{servers['lantern'].config}.log")
            if "error" in verified:
                for server in servers.values():
                    server.stop()
                break
            label = f"task list, {workers} worker(s), run {run_no}/{runs}"
            entries.append(
                http.alternate(servers, rounds, seconds, connections, rng, log, label, (f"Cookie: {cookie}",))
            )
        if "error" in verified:
            result["workers"][str(workers)] = {"check": verified, "error": verified["error"]}
            continue
        result["workers"][str(workers)] = {**summarise(entries), "check": verified, "multiproc": workers > 1}
    return result


def summarise(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of each run's medians, and every run kept."""
    summary: dict[str, Any] = {"runs": entries}
    fractions = [e["lantern_rps_fraction"] for e in entries if e.get("lantern_rps_fraction") is not None]
    summary["run_fractions"] = fractions
    summary["lantern_rps_fraction"] = round(median(fractions), 4) if fractions else None
    for role in ("bare", "lantern"):
        summary[role] = {
            key: round(median([e[role][key]["median"] for e in entries]), 3)
            for key in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
            if all(key in e[role] for e in entries)
        }
        overall = [e[role].get("cpu_ms_per_request_overall") for e in entries]
        summary[role]["cpu_ms_per_request_overall"] = (
            round(median([v for v in overall if v is not None]), 3) if any(v is not None for v in overall) else None
        )
        summary[role]["errors"] = sum(e[role]["socket_errors"] + e[role]["non_2xx"] for e in entries)
    return summary


if __name__ == "__main__":
    prepare()
