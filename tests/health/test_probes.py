"""/readyz/<check>, ?exclude=, ?verbose and non-critical checks (health/probes.py, health/views.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.test.client import AsyncClient

from django_lantern.health._probes import parse_query
from django_lantern.health._registry import get_runner
from django_lantern.health.checks import CheckFailed, ReadinessCheck
from tests.conftest import CORE_URLS

pytestmark = [pytest.mark.urls(CORE_URLS), pytest.mark.django_db]

HERE = __name__
BROKEN = "custom:BrokenCheck"


class BrokenCheck(ReadinessCheck):
    """Fails on purpose."""

    def run(self) -> None:
        raise CheckFailed("broken on purpose")


class OptionalCheck(ReadinessCheck):
    """Fails on purpose, but is declared non-critical by its class."""

    critical = False

    def run(self) -> None:
        raise CheckFailed("optional thing down")


@pytest.fixture
def broken(settings: Any) -> None:
    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.BrokenCheck"]}


# -- /readyz/<check> -------------------------------------------------------------
@pytest.mark.usefixtures("broken")
@pytest.mark.parametrize("suffix", ["", "/"])
def test_one_check_by_name(client: Client, suffix: str) -> None:
    """/readyz/<check> runs that check alone: 200 for a passing one, 503 for the failing one."""
    good = client.get(f"/readyz/db:default{suffix}")
    assert good.status_code == 200
    assert good.json() == {"status": "ready", "db": "ok", "checks": {"db:default": good.json()["checks"]["db:default"]}}
    bad = client.get(f"/readyz/{BROKEN}{suffix}")
    assert bad.status_code == 503
    assert set(bad.json()["checks"]) == {BROKEN}
    assert bad.json()["checks"][BROKEN]["error"] == "broken on purpose"
    assert client.get("/readyz").status_code == 503  # the default stays as it was


@pytest.mark.usefixtures("broken")
def test_percent_encoded_name_is_decoded(client: Client) -> None:
    """``db%3Adefault`` names ``db:default`` (the path is decoded before matching)."""
    assert client.get("/readyz/db%3Adefault").json()["checks"].keys() == {"db:default"}


@pytest.mark.parametrize(
    "name",
    ["nope", "db:default%00", "db:DEFAULT", "db:default/extra", "<script>alert(1)</script>", "x" * 5000, "%2e%2e"],
)
def test_unknown_check_is_404_without_echo(client: Client, name: str) -> None:
    """An unknown or hostile name gets 404 listing the real names, never repeating the one asked for."""
    response = client.get(f"/readyz/{name}")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {"status": "not_found", "checks": ["db:default", "cache:default"]}
    assert b"script" not in response.content and b"nope" not in response.content


def test_per_check_reuses_the_shared_verdict(client: Client, settings: Any) -> None:
    """A per-check request within READINESS_CACHE_SECONDS answers the verdict /readyz just decided."""
    settings.LANTERN = {"READINESS_CACHE_SECONDS": 60}
    first = client.get("/readyz").json()["checks"]["db:default"]
    again = client.get("/readyz/db:default").json()["checks"]["db:default"]
    assert again == first  # same ms: not a new attempt


def test_per_check_path_follows_readyz_path(client: Client, settings: Any) -> None:
    """A moved READYZ_PATH moves the per-check prefix."""
    settings.LANTERN = {"READYZ_PATH": "/-/ready"}
    assert client.get("/-/ready/db:default").status_code == 200
    assert client.get("/-/ready/nope").status_code == 404


def test_url_route_serves_per_check(client: Client, settings: Any) -> None:
    """With the middleware's paths off, django_lantern.urls serves /readyz/<check> too."""
    settings.LANTERN = {"READYZ_PATH": None, "READINESS_CHECKS": [f"{HERE}.BrokenCheck"]}
    assert client.get("/readyz/db:default/").status_code == 200
    assert client.get(f"/readyz/{BROKEN}").status_code == 503
    assert client.get("/readyz/nope").status_code == 404


@pytest.mark.usefixtures("broken")
async def test_per_check_on_the_async_path(async_client: AsyncClient) -> None:
    """The async path answers per-check, exclude and verbose like the sync one."""
    assert (await async_client.get("/readyz/db:default")).status_code == 200
    assert (await async_client.get(f"/readyz?exclude={BROKEN}")).status_code == 200
    verbose = await async_client.get("/readyz?verbose")
    assert verbose.status_code == 503 and f"[-]{BROKEN} failed: broken on purpose" in verbose.content.decode()


# -- ?exclude= --------------------------------------------------------------------
@pytest.mark.usefixtures("broken")
def test_exclude_skips_checks(client: Client) -> None:
    """?exclude=<check> (repeatable) leaves checks out of the run and the body."""
    response = client.get(f"/readyz?exclude={BROKEN}")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"db:default", "cache:default"}
    both = client.get(f"/readyz?exclude={BROKEN}&exclude=cache:default").json()
    assert set(both["checks"]) == {"db:default"} and "cache" not in both


@pytest.mark.usefixtures("broken")
def test_exclude_unknown_names_are_ignored(client: Client) -> None:
    """Names that match no check are ignored (a renamed check does not break a probe), never a 500."""
    response = client.get("/readyz?exclude=nope&exclude=%00%ff&exclude=")
    assert response.status_code == 503  # the failing check still runs
    assert set(response.json()["checks"]) == {"db:default", "cache:default", BROKEN}
    assert b"nope" not in response.content


def test_excluded_checks_do_not_run(client: Client, settings: Any) -> None:
    """An excluded check is not attempted at all."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.BrokenCheck"]}
    client.get(f"/readyz?exclude={BROKEN}")
    assert BROKEN not in {r.name for r in get_runner().last_results}
    assert get_runner()._workers[BROKEN]._verdict is None


def test_hostile_query_strings_are_bounded(client: Client) -> None:
    """An over-long query or too many fields is a 400 that repeats nothing; other parameters are ignored."""
    assert client.get("/readyz?" + "a" * 5000).status_code == 400
    many = "&".join(f"exclude=n{i}" for i in range(100))
    response = client.get("/readyz?" + many)
    assert response.status_code == 400 and b"n99" not in response.content
    assert client.get("/readyz?foo=bar&exclude").status_code == 200


def test_parse_query() -> None:
    """exclude is repeatable; verbose is on when present unless 0/false."""
    assert parse_query("exclude=a&exclude=b&verbose").exclude == {"a", "b"}
    assert parse_query("verbose").verbose and parse_query("verbose=1").verbose
    assert not parse_query("verbose=0").verbose and not parse_query("").verbose


# -- ?verbose ---------------------------------------------------------------------
@pytest.mark.usefixtures("broken")
def test_verbose_is_one_line_per_check(client: Client) -> None:
    """?verbose answers plain text, a [+]/[-] line per check and the verdict, with the JSON status."""
    response = client.get("/readyz?verbose&exclude=gone")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("[+]db:default ok (") and lines[1].startswith("[+]cache:default ok (")
    assert lines[2].startswith(f"[-]{BROKEN} failed: broken on purpose (")
    assert lines[3] == "warn: 1 excluded name(s) match no check and were ignored"
    assert lines[4] == "readyz check failed"
    ok = client.get("/readyz/db:default?verbose").content.decode().splitlines()
    assert ok[-1] == "readyz check passed" and len(ok) == 2


def test_verbose_head_has_no_body(client: Client) -> None:
    """HEAD ?verbose: same status and length header, empty body."""
    response = client.head("/readyz?verbose")
    assert response.status_code == 200 and response.content == b"" and int(response["Content-Length"]) > 0


# -- non-critical -----------------------------------------------------------------
def test_non_critical_by_class_attribute(client: Client, settings: Any) -> None:
    """A check with ``critical = False`` is reported failing but /readyz stays 200 ready."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.OptionalCheck"]}
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    entry = body["checks"]["custom:OptionalCheck"]
    assert entry["ok"] is False and entry["critical"] is False and entry["error"] == "optional thing down"
    # Asked for by name, a non-critical check reports its own state.
    assert client.get("/readyz/custom:OptionalCheck").status_code == 503
    assert "(non-critical)" in client.get("/readyz?verbose").content.decode()


def test_non_critical_by_setting(client: Client, settings: Any) -> None:
    """READINESS_NON_CRITICAL names checks; critical checks still turn the probe 503."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.BrokenCheck"], "READINESS_NON_CRITICAL": [BROKEN]}
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["checks"][BROKEN]["critical"] is False
    assert "critical" not in response.json()["checks"]["db:default"]


def test_non_critical_failure_of_a_cache_marks_it_down(client: Client, settings: Any) -> None:
    """A failing non-critical cache shows "cache": "down" while the status stays ready."""
    settings.LANTERN = {"READINESS_NON_CRITICAL": ["cache:default"]}
    runner = get_runner()
    cache_check = next(c for c in runner.checks if c.name == "cache:default")

    def fail() -> None:
        raise CheckFailed("cache down on purpose")

    cache_check.run = fail  # type: ignore[method-assign]
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ready" and body["cache"] == "down" and body["db"] == "ok"


def test_unknown_names_in_settings_are_refused(settings: Any) -> None:
    """READINESS_NON_CRITICAL and READINESS_CHECK_TIMEOUTS must name registered checks."""
    settings.LANTERN = {"READINESS_NON_CRITICAL": ["cache:nope"]}
    with pytest.raises(ImproperlyConfigured, match="cache:nope"):
        get_runner()


def test_check_timeouts_setting(settings: Any) -> None:
    """READINESS_CHECK_TIMEOUTS sets one check's enforced timeout."""
    settings.LANTERN = {"READINESS_CHECK_TIMEOUTS": {"db:default": 3}}
    runner = get_runner()
    assert runner._workers["db:default"].timeout == 3.0
    assert runner._workers["cache:default"].timeout == 0.5


def test_duplicate_check_names_are_refused(settings: Any) -> None:
    """The same check listed twice is a configuration error, not a silently dropped check."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.BrokenCheck", f"{HERE}.BrokenCheck"]}
    with pytest.raises(ImproperlyConfigured, match="BrokenCheck"):
        get_runner()


def test_lantern_check_command_follows_non_critical_and_exclude(settings: Any) -> None:
    """manage.py lantern_check ignores non-critical failures and accepts --exclude, like /readyz."""
    import json
    from io import StringIO

    from django.core.management import CommandError, call_command

    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.BrokenCheck", f"{HERE}.OptionalCheck"]}
    with pytest.raises(CommandError):
        call_command("lantern_check", stdout=StringIO())
    out = StringIO()
    call_command("lantern_check", "--exclude", BROKEN, stdout=out)
    body = json.loads(out.getvalue())
    assert body["status"] == "ready" and body["checks"]["custom:OptionalCheck"]["critical"] is False
    assert BROKEN not in body["checks"]


def test_unknown_probe_names_are_system_check_e003(settings: Any) -> None:
    """manage.py check reports an unknown READINESS_NON_CRITICAL name as lantern.E003, naming it."""
    from django_lantern.checks import check_dotted_paths

    settings.LANTERN = {"READINESS_NON_CRITICAL": ["cache:typo"]}
    messages = check_dotted_paths()
    assert [m.id for m in messages] == ["lantern.E003"] and "cache:typo" in messages[0].msg


def test_asgi_handler_answers_per_check_paths_on_the_loop() -> None:
    """LanternASGIHandler treats /readyz/<check> as a probe (no thread per request); other paths are not."""
    from django_lantern.health.asgi import LanternASGIHandler

    def scope(path: str) -> dict[str, Any]:
        return {"type": "http", "path": path, "root_path": ""}

    assert LanternASGIHandler._is_probe(scope("/readyz/db:default"))
    assert LanternASGIHandler._is_probe(scope("/readyz/anything-at-all"))  # 404 from the view, still on the loop
    assert not LanternASGIHandler._is_probe(scope("/readyzz/db:default"))
    assert not LanternASGIHandler._is_probe(scope("/healthz/db:default"))


def test_verbose_lines_cannot_be_forged_by_a_check_message() -> None:
    """A CheckFailed message with line breaks stays on its check's line."""
    from django_lantern.health._probes import verbose_text

    body = {"checks": {"custom:x": {"ok": False, "ms": 1.0, "error": "bad\n[+]db:default ok\rreadyz check passed"}}}
    lines = verbose_text(body, 503, 0).splitlines()
    assert len(lines) == 2 and lines[-1] == "readyz check failed"


def test_alerting_rules_keep_per_check_probes_out_of_app_traffic() -> None:
    """deploy/prometheus/rules.yml excludes /readyz/<check> (a startup probe's 503s are not app errors)."""
    import re
    from pathlib import Path

    rules = (Path(__file__).parents[2] / "deploy" / "prometheus" / "rules.yml").read_text()
    patterns = re.findall(r'route!~"([^"]+)"', rules)
    assert patterns
    for pattern in patterns:  # PromQL regexes are anchored at both ends
        assert all(re.fullmatch(pattern, r) for r in ("/readyz", "/readyz/<check>", "/healthz", "/metrics"))
        assert not any(re.fullmatch(pattern, r) for r in ("/tasks/<int:pk>/", "/", "/readyzz"))


# -- who sees the detail -----------------------------------------------------------
OUTSIDE = "203.0.113.9"  # a public address, outside the default METRICS_ALLOWED_NETWORKS
TOKEN = "probe-detail-token-7f3a"


@pytest.mark.usefixtures("broken")
@pytest.mark.parametrize("asked", ["/readyz", "/readyz/", f"/readyz/{BROKEN}", "/readyz?exclude=nope"])
def test_an_outside_caller_gets_the_chapters_keys_only(client: Client, asked: str) -> None:
    """A caller the /metrics rule does not admit gets status (and db/cache) and the HTTP status:
    no check names, entries or error texts."""
    response = client.get(asked, REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready" and set(body) <= {"status", "db", "cache"}
    assert b"broken on purpose" not in response.content and BROKEN.encode() not in response.content


@pytest.mark.usefixtures("broken")
def test_an_outside_caller_gets_the_verdict_line_and_no_check_names(client: Client) -> None:
    """?verbose is the verdict alone; an unknown name's 404 does not list the checks."""
    verbose = client.get("/readyz?verbose", REMOTE_ADDR=OUTSIDE)
    assert verbose.status_code == 503 and verbose.content == b"readyz check failed\n"
    assert client.get("/readyz/db:default?verbose", REMOTE_ADDR=OUTSIDE).content == b"readyz check passed\n"
    missing = client.get("/readyz/nope", REMOTE_ADDR=OUTSIDE)
    assert missing.status_code == 404 and missing.json() == {"status": "not_found"}


@pytest.mark.parametrize(
    ("remote_addr", "headers"),
    [
        ("127.0.0.1", {}),  # loopback
        ("10.0.3.7", {}),  # a node's private address: the kubelet
        (OUTSIDE, {"Authorization": f"Bearer {TOKEN}"}),
    ],
)
def test_callers_the_metrics_rule_admits_see_every_detail(
    client: Client, settings: Any, remote_addr: str, headers: dict[str, str]
) -> None:
    """Loopback, private networks and the /metrics bearer token see each check, ?verbose's lines and the names."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{HERE}.BrokenCheck"], "METRICS_BEARER_TOKEN": TOKEN}
    body = client.get("/readyz", REMOTE_ADDR=remote_addr, headers=headers).json()
    assert body["checks"][BROKEN]["error"] == "broken on purpose" and body["checks"]["db:default"]["ok"] is True
    verbose = client.get("/readyz?verbose", REMOTE_ADDR=remote_addr, headers=headers).content.decode()
    assert f"[-]{BROKEN} failed: broken on purpose" in verbose
    assert BROKEN in client.get("/readyz/nope", REMOTE_ADDR=remote_addr, headers=headers).json()["checks"]


def test_a_wrong_token_or_a_forwarded_header_does_not_open_the_detail(client: Client, settings: Any) -> None:
    """The peer address decides, as for /metrics: X-Forwarded-For from outside and a wrong token are refused."""
    settings.LANTERN = {"METRICS_BEARER_TOKEN": TOKEN}
    for headers in ({"Authorization": "Bearer wrong"}, {"X-Forwarded-For": "10.0.0.1"}):
        body = client.get("/readyz", REMOTE_ADDR=OUTSIDE, headers=headers).json()
        assert body["status"] == "ready" and "checks" not in body, headers


async def test_the_async_path_applies_the_same_rule() -> None:
    """The async readiness view hides the detail from an outside caller too."""
    from django.test import RequestFactory

    from django_lantern.health._views import areadyz_response

    outside = await areadyz_response(RequestFactory().get("/readyz", REMOTE_ADDR=OUTSIDE))
    inside = await areadyz_response(RequestFactory().get("/readyz"))
    assert outside.status_code == 200 and b"checks" not in outside.content
    assert b'"checks"' in inside.content
