"""Per-check and partial readiness, verbose output and non-critical checks on real servers
(gunicorn gthread and uvicorn), with checks that fail on purpose (tests/system/probe_settings.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.system import support
from tests.system.conftest import Services

pytestmark = [pytest.mark.system, pytest.mark.server]

OPTIONAL = "custom:failing_on_purpose"
ALL_CHECKS = {"db:default", "cache:default", "migrations:default", "storage:default", "disk", OPTIONAL}


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(
    request: pytest.FixtureRequest, services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[support.Server]:
    env = {
        "LANTERN_SYSTEM_MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        **support.base_env(services.database_url, services.redis_url),
        "DJANGO_SETTINGS_MODULE": "tests.system.probe_settings",
        # The built-in checks' first attempt imports migrations and opens connections:
        # room for a loaded 2-core machine.
        "LANTERN_READINESS_TIMEOUT": "2",
    }
    args = support.gunicorn_args(workers=1, threads=4) if request.param == "gunicorn" else []
    with support.serve(request.param, env, args=args) as srv:
        yield srv


def _get(server: support.Server, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=15)


def test_default_readyz_is_503_for_the_critical_failure_only(server: support.Server) -> None:
    """/readyz runs every check: the critical disk failure makes it 503; the non-critical one is shown."""
    response = _get(server, "/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "not_ready"
    assert set(body["checks"]) == ALL_CHECKS
    assert body["checks"]["disk"]["ok"] is False and "critical" not in body["checks"]["disk"]
    assert body["checks"][OPTIONAL] == {**body["checks"][OPTIONAL], "ok": False, "critical": False}
    for name in ALL_CHECKS - {"disk", OPTIONAL}:
        assert body["checks"][name]["ok"] is True, (name, body)
    assert body["db"] == "ok" and body["cache"] == "ok"


def test_exclude_makes_it_ready_with_the_non_critical_failure_reported(server: support.Server) -> None:
    """?exclude=disk leaves the non-critical failure in the body and answers 200 ready."""
    response = _get(server, "/readyz?exclude=disk&exclude=renamed-long-ago")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ready"
    assert set(body["checks"]) == ALL_CHECKS - {"disk"}
    assert body["checks"][OPTIONAL]["error"] == "failing on purpose"


@pytest.mark.parametrize(
    ("name", "status"),
    [("db:default", 200), ("migrations:default", 200), ("storage:default", 200), ("disk", 503), (OPTIONAL, 503)],
)
def test_one_check_by_name(server: support.Server, name: str, status: int) -> None:
    """/readyz/<check> answers that check's own state, non-critical or not."""
    response = _get(server, f"/readyz/{name}")
    assert response.status_code == status
    assert set(response.json()["checks"]) == {name}


def test_unknown_and_hostile_names_are_404_without_echo(server: support.Server) -> None:
    """Unknown names, encoded control bytes and markup get 404 listing the real names, no echo, no 500."""
    for path in ["/readyz/nope-zz", "/readyz/%3Cscript%3Ezz", "/readyz/db:default%00zz", "/readyz/" + "z" * 3000]:
        response = _get(server, path)
        assert response.status_code == 404, path
        assert set(response.json()["checks"]) == ALL_CHECKS
        assert b"zz" not in response.content
    raw = support.raw_request(server.port, b"GET /readyz/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert support.status_of(raw) in (400, 404)


def test_verbose_for_curl(server: support.Server) -> None:
    """?verbose: one [+]/[-] line per check and the verdict, as plain text."""
    response = _get(server, "/readyz?verbose")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert any(line.startswith("[-]disk failed: ") and "bytes free" in line for line in lines)
    assert any(
        line.startswith(f"[-]{OPTIONAL} failed: failing on purpose (") and "(non-critical)" in line for line in lines
    )
    assert lines[-1] == "readyz check failed"
    assert _get(server, "/readyz/db:default?verbose").text.endswith("readyz check passed\n")


def test_metrics_report_the_non_critical_failure_and_one_route_label(server: support.Server) -> None:
    """A ready ``?exclude=disk`` answer cannot raise the overall gauge while the critical disk check
    it left out is failing; the gauges show the non-critical check down; per-check paths share a route."""
    assert _get(server, "/readyz").status_code == 503  # every worker's last disk result: failed
    assert _get(server, "/readyz?exclude=disk").status_code == 200
    for i in range(20):
        _get(server, f"/readyz/unknown-{i}")
    text = _get(server, "/metrics").text
    assert support.metric_value(text, "lantern_readiness_up") == 0
    assert support.metric_value(text, "lantern_readiness_check_up", {"check": OPTIONAL}) == 0
    assert support.metric_value(text, "lantern_readiness_check_up", {"check": "db:default"}) == 1
    assert (
        support.metric_value(text, "http_server_requests_total", {"route": "/readyz/<check>", "status_code": "404"})
        >= 20
    )
    assert "unknown-1" not in text


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_detail_only_for_callers_the_metrics_rule_admits(services: Services, kind: str) -> None:
    """With /metrics limited to a token and 10.0.0.0/8, a loopback caller without the token gets the chapter's
    keys, a bare verdict for ?verbose and no check names in a 404; with the token, every detail."""
    token = "system-detail-token-5b1e"
    env = {**support.base_env(services.database_url, services.redis_url), "LANTERN_SYSTEM_METRICS_TOKEN": token}
    args = support.gunicorn_args(workers=1, threads=4) if kind == "gunicorn" else []
    auth = {"Authorization": f"Bearer {token}"}
    with support.serve(kind, env, args=args) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        anonymous = client.get("/readyz")
        verbose = client.get("/readyz?verbose")
        missing = client.get("/readyz/nope")
        allowed = client.get("/readyz", headers=auth)
        allowed_verbose = client.get("/readyz?verbose", headers=auth)
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ready", "db": "ok", "cache": "ok"}
    assert verbose.text == "readyz check passed\n"
    assert missing.status_code == 404 and missing.json() == {"status": "not_found"}
    assert allowed.status_code == 200 and allowed.json()["checks"]["db:default"]["ok"] is True
    assert "[+]db:default ok" in allowed_verbose.text
