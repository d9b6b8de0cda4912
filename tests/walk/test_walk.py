"""A newcomer's first ten minutes, automated: ``make run``, then every home-page link in headless Chromium.

The server is started by ``make run`` itself (migrate, collectstatic,
seed_demo, gunicorn with two workers, DEBUG off), on SQLite in a temporary
directory and a free port (``PORT``). The walk visits the home
page anonymously, as ``demo`` and as ``admin``, follows every link on it each
time, saves a task and presses the staff-only "raise an error" button. Then:

- every HTML page is styled (each stylesheet loaded with rules; the example's
  font or the admin's header colour computed), and no static file is a 404;
- the 403, 404 and 500 pages quote the X-Request-Id of their own response;
- the server log has exactly one access line per request for pages, and none
  at the default level for static files and the favicon (their lines are
  DEBUG): gunicorn's own access log (which records the X-Request-Id each
  response carried) and ours list the same page request ids, once each.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from tests.helpers.servers import ROOT, free_port
from tests.walk.browser import Visit, chromium_paths, start_browser, submit, visit

pytestmark = pytest.mark.walk

UNSTYLED_BACKGROUND = "rgba(0, 0, 0, 0)"
# Variables of the caller's shell that would make the server differ from a bare `make run`.
CLEARED = ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "LANTERN_LOG_FORMAT", "DJANGO_SETTINGS_MODULE")
CLEARED_PREFIXES = ("LANTERN_", "PROMETHEUS_", "SENTRY_", "OTEL_", "DJANGO_")


@dataclass
class Walk:
    visits: list[Visit]
    access: list[dict[str, object]]
    gunicorn_ids: list[str]


def _require_chromium() -> None:
    if chromium_paths() is None:
        reason = "chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("CI") or os.environ.get("LANTERN_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@contextlib.contextmanager
def make_run(tmp: Path, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, Path, Path]]:
    """`make run` on a free port; yields (base url, server log, gunicorn access log); stops its process group.
    ``extra_env`` is set after the caller's variables are cleared (a walk on Redis and PostgreSQL)."""
    port = free_port()
    server_log, gunicorn_log = tmp / "server.log", tmp / "gunicorn-access.log"
    env = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(CLEARED_PREFIXES)}
    env.update(
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        DJANGO_STATIC_ROOT=str(tmp / "static"),
        PYTHONUNBUFFERED="1",
        PORT=str(port),
        GUNICORN_CMD_ARGS=(
            f"--access-logfile {gunicorn_log} "
            "--access-logformat 'gunicorn-access %(m)s %(U)s %(s)s %({x-request-id}o)s'"
        ),
    )
    env.update(extra_env or {})
    with server_log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"make run exited:\n{server_log.read_text()[-4000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"make run not serving in 120 s:\n{server_log.read_text()[-4000:]}"
            time.sleep(0.3)
        yield base, server_log, gunicorn_log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _follow_home_links(browser: Chrome, base: str, visits: list[Visit]) -> Visit:
    """The home page, then every same-site link on it."""
    home = visit(browser, base + "/")
    visits.append(home)
    for link in dict.fromkeys(home.page["links"]):
        if urlsplit(link).netloc == urlsplit(base).netloc:
            visits.append(visit(browser, link))
    return home


def _log_in(browser: Chrome, url: str, username: str, password: str) -> Visit:
    visit(browser, url)
    if "/accounts/" in url:  # the example's own login page says what to type
        assert f"<code>{username}</code> / <code>{password}</code>" in browser.page_source
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    return submit(browser, "form [type=submit]", url)


def _walk(base: str, tmp: Path) -> list[Visit]:
    visits: list[Visit] = []
    browser = start_browser(tmp / "downloads")
    try:
        _follow_home_links(browser, base, visits)  # anonymous
        visits.append(_log_in(browser, base + "/accounts/login/?next=/", "demo", "demo-password"))
        home = _follow_home_links(browser, base, visits)
        tasks = next(link for link in home.page["links"] if link.endswith("/tasks/"))
        visits.append(visit(browser, tasks.replace("/tasks/", "/tasks/new/")))
        browser.find_element(By.NAME, "title").send_keys("Walked through by the browser")
        visits.append(submit(browser, "main form [type=submit]", tasks))
        assert "Task “Walked through by the browser” created." in browser.page_source
        visit(browser, base + "/")
        visits.append(submit(browser, "header form [type=submit]", base + "/accounts/logout/"))  # the header's form
        assert "/accounts/login/" in browser.current_url
        visits.append(_log_in(browser, base + "/admin/login/?next=/admin/", "admin", "admin-password"))
        _follow_home_links(browser, base, visits)
        visit(browser, base + "/")
        visits.append(submit(browser, "form[action='/raise-error/'] [type=submit]", base + "/raise-error/"))
    finally:
        browser.quit()
    return visits


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Walk:
    _require_chromium()
    tmp = tmp_path_factory.mktemp("walk")
    with make_run(tmp) as (base, server_log, gunicorn_log):
        visits = _walk(base, tmp)
    lines = server_log.read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "access"]
    gunicorn_ids = [line.split()[-1] for line in gunicorn_log.read_text().splitlines() if line.strip()]
    return Walk(visits, access, gunicorn_ids)


def test_the_walk_covers_the_home_page(walk: Walk) -> None:
    """Every kind of page was reached: the probes, metrics, the CSV export, the admin, the three error pages."""
    statuses = {v.document.status for v in walk.visits if v.document}
    paths = {urlsplit(v.url).path for v in walk.visits} | {urlsplit(v.requested).path for v in walk.visits}
    assert {403, 404, 500} <= statuses
    assert {"/healthz", "/readyz", "/metrics", "/orgs/", "/admin/"} <= paths
    # A small org's export is the CSV itself; a large org's is queued as a
    # background job (202, a page that says where to fetch it).
    exports = [(r.status, r.mime_type) for v in walk.visits for r in v.responses if r.url.endswith("/export.csv")]
    assert (200, "text/csv") in exports
    assert set(exports) <= {(200, "text/csv"), (202, "text/html")}, exports
    for v in walk.visits:
        assert v.document is not None, f"no response seen for {v.requested}"
        assert v.document.status < 500 or v.requested.endswith("/raise-error/"), (v.url, v.document.status)
        assert v.document.request_id, f"{v.url}: no X-Request-Id"


def test_every_page_is_styled(walk: Walk) -> None:
    """Each HTML page's stylesheets loaded, and their styles apply (the admin's too)."""
    html = [v for v in walk.visits if v.is_html]
    assert len(html) >= 15
    for v in html:
        page = v.page
        # The operations page carries its CSS inline (no static files to collect); every other page links it.
        inline_only = page["inlineStyles"] > 0 and not page["stylesheets"]
        assert inline_only or (page["stylesheets"] and all(page["loaded"])), (v.url, page["stylesheets"])
        if v.is_admin:
            assert page["adminHeaderBackground"] not in (None, UNSTYLED_BACKGROUND), v.url
        else:
            assert "system-ui" in page["bodyFont"], (v.url, page["bodyFont"])
    sheets = [r for v in walk.visits for r in v.responses if r.resource_type == "Stylesheet"]
    assert sheets and all(r.status == 200 and r.mime_type == "text/css" for r in sheets)


def test_error_pages_quote_their_request_id(walk: Walk) -> None:
    """The 403, 404 and 500 pages show the X-Request-Id that their own response carries."""
    errors = [v for v in walk.visits if v.document and v.document.status in (403, 404, 500)]
    assert {v.document.status for v in errors if v.document} == {403, 404, 500}
    for v in errors:
        assert v.document is not None
        assert v.page.get("quotedId") == v.document.request_id, (v.url, v.page.get("quotedId"))


def test_one_access_line_per_request(walk: Walk) -> None:
    """Every page the browser received has exactly one access line, static files and the favicon none
    (DEBUG), healthy probes none, and gunicorn writes none of its own; no static file is missing."""
    from django_lantern.http._assets import is_static_asset

    ours = Counter(str(r["request_id"]) for r in walk.access)
    responses = [r for v in walk.visits for r in v.responses if r.request_id]
    assets = [r for r in responses if is_static_asset(urlsplit(r.url).path)]
    # A healthy probe writes no line, a slow one (the first, cold /readyz) does: neither is counted.
    probes = [r for r in responses if urlsplit(r.url).path.rstrip("/") in ("/healthz", "/readyz") and r.status < 400]
    pages = {r.request_id for r in responses} - {r.request_id for r in assets} - {r.request_id for r in probes}
    assert len(pages) >= 25 and len(assets) >= 15
    assert all(ours[rid] == 1 for rid in pages), [rid for rid in pages if ours[rid] != 1]
    assert max(ours.values()) == 1
    assert not [r.url for r in assets if ours[str(r.request_id)]]
    missing = [(r.url, r.status) for r in assets if urlsplit(r.url).path.startswith("/static/") and r.status >= 400]
    assert missing == []
    # gunicorn's own access log is off while ours is on (one line per request, not two).
    assert walk.gunicorn_ids == []
