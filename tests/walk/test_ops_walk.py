"""The operations page in headless Chromium, against `make run` on PostgreSQL and Redis (two gunicorn workers).

The admin logs in, the walk makes traffic (pages, a 404, anonymous requests
spread over both workers), presses "raise an error" and publishes a Celery
task that fails; then:

- the page's totals are the numbers ``/metrics`` shows, summed over both
  workers (requests, 5xx, task failures), and the page lists both workers;
- the exception is listed with the request id its 500 response carried, and
  the request-id box finds it;
- the example's N+1 page ("Recent tasks", visited as the demo user, who sees
  its tasks) is listed with its callsite (``pages/views.py:<line>``), the box
  finds it by the ``X-Request-Id`` its response carried, and "Database by
  route" shows its queries per request as ``/metrics`` has them
  (``http_server_request_db_queries`` sum over count for that route);
- anonymous users are sent to login and a non-staff user gets 403.

The page's form controls are labelled, its headings in order, its charts
described; at phone width in dark mode it fits without sideways scrolling.
A screenshot of the page is saved to ``build/test-artifacts/ops-page.png``
(and ``ops-page-phone-dark.png``)
(``LANTERN_OPS_WALK_MINUTES=3`` keeps the traffic going first, so that the
charts have points: docs/images/ops-page.png is such a run's).
Needs DATABASE_URL and REDIS_URL (the database ``<name>_opswalk`` is made
afresh; the cache keys carry a prefix of this run's own).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from tests.helpers.servers import ROOT
from tests.helpers.services import require_postgres, require_redis
from tests.system.support import pg_exec
from tests.walk.browser import start_browser, submit, visit
from tests.walk.test_walk import _log_in, _require_chromium, make_run

pytestmark = pytest.mark.walk

ARTIFACTS = Path(os.environ.get("LANTERN_ARTIFACT_DIR", ROOT / "build" / "test-artifacts"))
EXAMPLE = ROOT / "example"
MISSING_EXPORT = "00000000-0000-4000-8000-000000000000"
N_PLUS_ONE_PATH = "/recent-tasks/"


def _n_plus_one_callsite() -> str:
    """The example's loop line, ``pages/views.py:<n>``: what lantern.db names as the N+1's callsite."""
    lines = (EXAMPLE / "pages" / "views.py").read_text().splitlines()
    (n,) = [i for i, text in enumerate(lines, 1) if "task.org.name) for task in" in text]
    return f"pages/views.py:{n}"


# Every form control has a label, headings do not skip a level, every chart has a text alternative.
ACCESSIBILITY_PROBE = """
const controls = [...document.querySelectorAll('input:not([type=hidden]), select, button')];
const levels = [...document.querySelectorAll('h1, h2, h3')].map((h) => Number(h.tagName[1]));
return {
  unlabelled: controls.filter((c) => c.tagName !== 'BUTTON' && c.labels.length === 0).map((c) => c.outerHTML),
  unnamedButtons: controls.filter((c) => c.tagName === 'BUTTON' && !c.textContent.trim()).length,
  skips: levels.filter((level, i) => i > 0 && level > levels[i - 1] + 1).length,
  firstHeading: levels[0],
  charts: [...document.querySelectorAll('svg')].map((svg) => svg.getAttribute('role') === 'img'
    && (svg.getAttribute('aria-labelledby') || '').split(' ').every((id) => document.getElementById(id))),
};
"""
PHONE_PROBE = """
return {
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  dark: window.matchMedia('(prefers-color-scheme: dark)').matches,
  background: getComputedStyle(document.body).backgroundColor,
};
"""


@dataclass
class Seen:
    metrics: dict[str, float]  # read just before the page
    page_totals: dict[str, int]
    metrics_after: dict[str, float]  # read just after
    error_id: str
    page_html: str
    found_html: str
    n_plus_one_id: str
    n_plus_one_found_html: str
    n_plus_one_route: str
    n_plus_one_metrics: tuple[float, float]  # (queries, requests) of its route in /metrics
    anonymous_status: int
    anonymous_location: str
    member_status: int
    screenshot: Path
    accessibility: dict[str, object]
    phone: dict[str, object]


def _totals(base: str) -> dict[str, float]:
    text = httpx.get(base + "/metrics", timeout=10).text
    totals = {"requests": 0.0, "5xx": 0.0, "task_failures": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_server_requests_total":
                totals["requests"] += sample.value
                if sample.labels.get("status_code", "").startswith("5"):
                    totals["5xx"] += sample.value
            elif sample.name == "lantern_tasks_total" and sample.labels.get("outcome") == "failure":
                totals["task_failures"] += sample.value
    return totals


def _route_queries(base: str, path: str) -> tuple[str, float, float]:
    """(route, queries, requests) of the route ``path`` was served by, from ``http_server_request_db_queries``."""
    text = httpx.get(base + "/metrics", timeout=10).text
    found: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if sample.name.startswith("http_server_request_db_queries_") and route.strip("/") == path.strip("/"):
                kind = sample.name.rsplit("_", 1)[1]
                if kind in ("sum", "count"):
                    totals = found.setdefault(route, [0.0, 0.0])
                    totals[kind == "count"] += sample.value
    assert len(found) == 1, found
    ((route, (queries, requests)),) = found.items()
    return route, queries, requests


def _number(browser: Chrome, element_id: str) -> int:
    return int(browser.find_element(By.ID, element_id).text.strip())


def _database(admin_url: str) -> str:
    """A fresh database beside DATABASE_URL's, named after it (``<name>_opswalk``)."""
    name = (urlsplit(admin_url).path.strip("/") or "lantern") + "_opswalk"
    pg_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_exec(admin_url, f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _fail_a_task(env: dict[str, str]) -> None:
    """Publish the export task for an export that does not exist: the worker's run fails."""
    code = f"from config.celery import export_tasks; export_tasks.delay({MISSING_EXPORT!r})"
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", code],
        cwd=EXAMPLE,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        timeout=60,
        capture_output=True,
    )


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.5)


def _keep_busy(base: str, minutes: float) -> None:
    """Traffic for ``minutes`` (0 by default), so that the charts have points: the docs' screenshot is taken
    with ``LANTERN_OPS_WALK_MINUTES=3``."""
    end = time.monotonic() + minutes * 60
    n = 0
    while time.monotonic() < end:
        n += 1
        path = "/this-page-does-not-exist/" if n % 7 == 0 else "/accounts/login/"
        httpx.get(base + path, timeout=10)
        time.sleep(0.05)


@contextlib.contextmanager
def _served(tmp: Path) -> Iterator[tuple[str, dict[str, str]]]:
    database = _database(require_postgres())
    extra = {
        "DATABASE_URL": database,
        "REDIS_URL": require_redis(),
        "LANTERN_CACHE_PREFIX": f"opswalk-{uuid.uuid4().hex[:8]}",
        "EXAMPLE_CELERY_QUEUE": f"opswalk-{uuid.uuid4().hex[:8]}",
        "WEB_CONCURRENCY": "2",
    }
    with make_run(tmp, extra) as (base, _log, _gunicorn_log):
        yield base, extra


def _walk(base: str, extra: dict[str, str], tmp: Path) -> Seen:
    anonymous = httpx.get(base + "/ops/", timeout=10, follow_redirects=False)
    # First, so that the N+1 below falls inside the page's route window (its last minutes) however long this is.
    _keep_busy(base, float(os.environ.get("LANTERN_OPS_WALK_MINUTES", "0")))
    browser = start_browser(tmp / "downloads")
    try:
        _log_in(browser, base + "/accounts/login/?next=/", "demo", "demo-password")
        member = visit(browser, base + "/ops/")
        member_status = member.document.status if member.document else 0
        # The demo user is a member of the seeded orgs, so its "Recent tasks" reads each task's org: an N+1.
        n_plus_one = visit(browser, base + N_PLUS_ONE_PATH)
        assert n_plus_one.document is not None and n_plus_one.document.status == 200
        n_plus_one_id = n_plus_one.document.request_id
        assert n_plus_one_id
        visit(browser, base + "/")
        submit(browser, "header form [type=submit]", base + "/accounts/logout/")
        _log_in(browser, base + "/admin/login/?next=/", "admin", "admin-password")
        home = visit(browser, base + "/")
        assert base + "/ops/" in home.page["links"]
        for path in ("/orgs/", "/this-page-does-not-exist/", "/healthz", "/readyz"):
            visit(browser, base + path)
        for _ in range(20):  # anonymous traffic: new connections, spread over both workers
            httpx.get(base + "/accounts/login/", timeout=10)
        visit(browser, base + "/")
        failed = submit(browser, "form[action='/raise-error/'] [type=submit]", base + "/raise-error/")
        assert failed.document is not None and failed.document.status == 500
        error_id = failed.document.request_id
        assert error_id
        _fail_a_task(extra)
        _wait(lambda: _totals(base)["task_failures"] >= 1, 60, "the failed task counted in /metrics")

        def listed() -> bool:
            visit(browser, base + "/ops/")
            return error_id in browser.page_source and n_plus_one_id in browser.page_source

        _wait(listed, 30, "the exception and the N+1 on the page (flushed within a few seconds)")
        route, _, _ = _route_queries(base, N_PLUS_ONE_PATH)

        def route_listed() -> bool:
            visit(browser, base + "/ops/")
            table = browser.page_source.split('id="db-routes"', 1)[-1].split("</table>", 1)[0]
            return f"<code>{route}</code>" in table

        # The routes come from the minute snapshots once there are some: within a minute or two.
        _wait(route_listed, 150, "the N+1 route under Database by route")
        n_plus_one_route, *n_plus_one_metrics = _route_queries(base, N_PLUS_ONE_PATH)
        time.sleep(1)  # let the browser's own late requests (the favicon) end before counting
        before = _totals(base)
        page = visit(browser, base + "/ops/")
        assert page.document is not None and page.document.status == 200
        page_totals = {
            "requests": _number(browser, "total-requests"),
            "5xx": _number(browser, "total-5xx"),
            "task_failures": _number(browser, "total-task-failures"),
        }
        page_html = browser.page_source
        after = _totals(base)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "ops-page.png"
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(int(height) + 40, 4000))
        browser.save_screenshot(str(screenshot))
        accessibility = browser.execute_script(ACCESSIBILITY_PROBE)
        # Phone width, dark: the page must fit without sideways scrolling of the page itself.
        browser.execute_cdp_cmd(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        )
        browser.set_window_size(390, 2400)
        visit(browser, base + "/ops/")
        phone = browser.execute_script(PHONE_PROBE)
        browser.save_screenshot(str(ARTIFACTS / "ops-page-phone-dark.png"))
        browser.set_window_size(1280, 900)
        box = browser.find_element(By.ID, "request_id")
        box.clear()
        box.send_keys(error_id)
        submit(browser, "form[role=search] [type=submit]", base + "/ops/")
        found_html = browser.find_element(By.ID, "found").get_attribute("outerHTML") or ""
        box = browser.find_element(By.ID, "request_id")
        box.clear()
        box.send_keys(n_plus_one_id)
        submit(browser, "form[role=search] [type=submit]", base + "/ops/")
        n_plus_one_found_html = browser.find_element(By.ID, "found").get_attribute("outerHTML") or ""
    finally:
        browser.quit()
    return Seen(
        before,
        page_totals,
        after,
        error_id,
        page_html,
        found_html,
        n_plus_one_id,
        n_plus_one_found_html,
        n_plus_one_route,
        (n_plus_one_metrics[0], n_plus_one_metrics[1]),
        anonymous.status_code,
        anonymous.headers.get("location", ""),
        member_status,
        screenshot,
        accessibility,
        phone,
    )


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Seen:
    _require_chromium()
    tmp = tmp_path_factory.mktemp("opswalk")
    with _served(tmp) as (base, extra):
        return _walk(base, extra, tmp)


def test_the_page_shows_the_numbers_metrics_shows(seen: Seen) -> None:
    """Summed over both workers: the page's live totals lie between two scrapes around it, and add up
    exactly to the first one plus that scrape's own request (the page's own is counted after it answers)."""
    assert seen.page_totals["requests"] == seen.metrics["requests"] + 1
    assert seen.metrics_after["requests"] == seen.page_totals["requests"] + 1  # the page's own request
    assert seen.page_totals["5xx"] == seen.metrics["5xx"] >= 1
    assert seen.page_totals["task_failures"] == seen.metrics["task_failures"] >= 1


def test_both_workers_are_listed(seen: Seen) -> None:
    rows = seen.page_html.split('id="run-h"', 1)[1].split("</table>", 1)[0]
    assert rows.count("<tr>") - 1 >= 2, rows  # a header row, then one per process that wrote a heartbeat


def test_the_exception_is_listed_with_its_request_id_and_the_box_finds_it(seen: Seen) -> None:
    table = seen.page_html.split('id="exceptions"', 1)[1].split("</table>", 1)[0]
    assert "pages.views.DeliberateError" in table and seen.error_id in table
    assert "exception" in seen.found_html and "DeliberateError" in seen.found_html


def test_the_n_plus_one_is_listed_with_its_callsite_and_the_box_finds_it(seen: Seen) -> None:
    table = seen.page_html.split('id="n-plus-one"', 1)[1].split("</table>", 1)[0]
    (row,) = [r for r in table.split("<tr>") if seen.n_plus_one_id in r]
    assert f"<code>{_n_plus_one_callsite()}</code>" in row and f"<code>{seen.n_plus_one_route}</code>" in row
    assert "N+1 query" in seen.n_plus_one_found_html and _n_plus_one_callsite() in seen.n_plus_one_found_html


def test_the_n_plus_one_route_s_queries_per_request_are_those_of_metrics(seen: Seen) -> None:
    """Every visit of the page runs the same queries, so the page's window and /metrics' totals agree."""
    queries, requests = seen.n_plus_one_metrics
    assert requests >= 1 and queries / requests > 10  # the seeded tasks' orgs, one query each
    table = seen.page_html.split('id="db-routes"', 1)[1].split("</table>", 1)[0]
    (row,) = [r for r in table.split("<tr>") if f"<code>{seen.n_plus_one_route}</code>" in r]
    shown = row.split('class="num">', 2)[1].split("<", 1)[0]
    assert shown == f"{queries / requests:.1f}", row
    share = row.split('class="num">', 2)[2].split("<", 1)[0]
    assert share.endswith(" %") and 0 < int(share[:-2]) <= 100, row


def test_the_failed_task_is_listed(seen: Seen) -> None:
    table = seen.page_html.split('id="tasks"', 1)[1].split("</table>", 1)[0]
    assert "tasks.export_tasks" in table and 'class="bad"' in table


def test_anonymous_and_non_staff_are_refused(seen: Seen) -> None:
    assert seen.anonymous_status == 302 and seen.anonymous_location.startswith("/accounts/login/?next=/ops/")
    assert seen.member_status == 403


def test_a_screenshot_was_saved(seen: Seen) -> None:
    assert seen.screenshot.stat().st_size > 10_000


def test_the_page_is_labelled_and_fits_a_phone_in_dark_mode(seen: Seen) -> None:
    a = seen.accessibility
    assert a["unlabelled"] == [] and a["unnamedButtons"] == 0, a
    assert a["firstHeading"] == 1 and a["skips"] == 0, a
    assert a["charts"] and all(a["charts"]), a  # type: ignore[arg-type]
    assert seen.phone["dark"] is True and seen.phone["background"] == "rgb(13, 17, 23)", seen.phone
    assert seen.phone["overflow"] <= 0, seen.phone  # wide tables scroll inside their own box (the scrollbar: < 0)
