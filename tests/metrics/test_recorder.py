"""The request recorder: normalised labels, probes counted but kept out of the histogram."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_lantern.health.checks import CheckFailed
from django_lantern.metrics import _recorder as recorder
from tests.metrics.conftest import value


def _finish(method: str, route: str, status: int = 200, *, probe: bool = False, seconds: float = 0.02) -> None:
    recorder.request_started()
    recorder.request_finished(method, route, status, seconds, probe=probe)


@pytest.mark.parametrize(
    ("method", "label"),
    [("GET", "GET"), ("PATCH", "PATCH"), ("get", "other"), ("PROPFIND", "other"), ("", "other"), ("G" * 500, "other")],
)
def test_methods_outside_the_standard_set_share_one_value(method: str, label: str) -> None:
    """Standard methods keep their name; anything else, including lower case, is `other`."""
    _finish(method, "orgs/")
    assert value("http_server_requests_total", {"method": label, "route": "orgs/", "status_code": "200"}) == 1
    assert value("http_server_request_duration_seconds_count", {"method": label, "route": "orgs/"}) == 1


@pytest.mark.django_db
def test_route_is_the_pattern_not_the_path(client: Client) -> None:
    """Through the middleware: the root pattern is `/`, every unmatched path `-`, as in the log field."""
    client.get("/")
    client.get("/does/not/exist/42/")
    client.get("/does/not/exist/43/")
    assert value("http_server_requests_total", {"method": "GET", "route": "/", "status_code": "200"}) == 1
    assert value("http_server_requests_total", {"method": "GET", "route": "-", "status_code": "404"}) == 2


@pytest.mark.django_db
def test_probes_are_counted_but_not_timed(client: Client) -> None:
    """/healthz, /readyz and /metrics count in requests_total but stay out of the latency histogram."""
    for path in ("/healthz", "/healthz/", "/readyz", "/metrics"):
        client.get(path)
    assert value("http_server_requests_total", {"method": "GET", "route": "/healthz", "status_code": "200"}) == 2
    assert value("http_server_requests_total", {"method": "GET", "route": "/readyz", "status_code": "200"}) == 1
    for route in ("/healthz", "/readyz", "/metrics"):
        assert value("http_server_request_duration_seconds_count", {"method": "GET", "route": route}) == 0


@pytest.mark.django_db
def test_probes_can_be_timed_when_configured(client: Client) -> None:
    """METRICS_EXCLUDE_PROBES_FROM_LATENCY=False puts probes into the histogram."""
    with override_settings(LANTERN={"METRICS_EXCLUDE_PROBES_FROM_LATENCY": False}):
        client.get("/healthz")
        assert value("http_server_request_duration_seconds_count", {"method": "GET", "route": "/healthz"}) == 1


def test_in_flight_goes_up_and_down() -> None:
    """The in-flight gauge counts requests between start and finish."""
    recorder.request_started()
    recorder.request_started()
    assert value("http_server_active_requests") == 2
    recorder.request_finished("GET", "a/", 200, 0.1, probe=False)
    recorder.request_finished("GET", "a/", 200, 0.1, probe=False)
    assert value("http_server_active_requests") == 0


def test_latency_buckets_are_configurable() -> None:
    """METRICS_LATENCY_BUCKETS sets the histogram's upper bounds."""
    with override_settings(LANTERN={"METRICS_LATENCY_BUCKETS": [0.1, 0.3]}):
        _finish("GET", "a/", seconds=0.2)
        labels = {"method": "GET", "route": "a/"}
        assert value("http_server_request_duration_seconds_bucket", {**labels, "le": "0.1"}) == 0
        assert value("http_server_request_duration_seconds_bucket", {**labels, "le": "0.3"}) == 1
        assert value("http_server_request_duration_seconds_bucket", {**labels, "le": "0.005"}) == 0


def test_namespace_prefixes_every_family() -> None:
    """METRICS_NAMESPACE prefixes the names (and the overflow counter's family label)."""
    with override_settings(LANTERN={"METRICS_NAMESPACE": "shop"}):
        _finish("GET", "a/")
        assert value("shop_http_server_requests_total", {"method": "GET", "route": "a/", "status_code": "200"}) == 1
        assert value("shop_lantern_label_overflow_total", {"family": "shop_http_server_requests"}) == 0


def test_disabled_records_nothing() -> None:
    """METRICS_ENABLED=False: the recorder does nothing."""
    with override_settings(LANTERN={"METRICS_ENABLED": False}):
        _finish("GET", "a/")
        recorder.exception_raised("ValueError")
        assert recorder.db_query_series("default") is None
        recorder.db_connection("default", failed=False)
        recorder.cache_operation("default", "get", "hit")
        assert value("http_server_requests_total", {"method": "GET", "route": "a/", "status_code": "200"}) == 0
        assert value("http_server_exceptions_total", {"exception_type": "ValueError"}) == 0
        assert value("django_db_new_connections_total", {"alias": "default"}) == 0


def test_exceptions_by_type_are_capped() -> None:
    """Exception types are counted by name, clipped, and capped like every family."""
    recorder.exception_raised("ValueError")
    recorder.exception_raised("ValueError")
    recorder.exception_raised("X" * 300)
    assert value("http_server_exceptions_total", {"exception_type": "ValueError"}) == 2
    assert value("http_server_exceptions_total", {"exception_type": "X" * 100}) == 1


@pytest.mark.django_db
def test_unhandled_view_exception_is_counted(client: Client, settings: object) -> None:
    """A view that raises is counted by exception type (through got_request_exception)."""
    client.raise_request_exception = False
    with override_settings(ROOT_URLCONF="tests.metrics.urls_boom"):
        response = client.get("/boom/")
    assert response.status_code == 500
    assert value("http_server_exceptions_total", {"exception_type": "BoomError"}) == 1
    assert value("http_server_requests_total", {"method": "GET", "route": "/boom/", "status_code": "500"}) == 1


@pytest.mark.django_db
def test_readiness_results_become_gauges(client: Client) -> None:
    """After /readyz, each check's result and duration and the overall answer are gauges."""
    assert client.get("/readyz").status_code == 200
    assert value("lantern_readiness_up") == 1
    assert value("lantern_readiness_check_up", {"check": "db:default", "kind": "db"}) == 1
    assert value("lantern_readiness_check_up", {"check": "cache:default", "kind": "cache"}) == 1
    assert value("lantern_readiness_check_duration_seconds", {"check": "db:default", "kind": "db"}) > 0


@pytest.mark.django_db
def test_failing_readiness_is_zero(client: Client) -> None:
    """A failing check shows as 0 in its gauge and in lantern_readiness_up."""
    with override_settings(LANTERN={"READINESS_CHECKS": ["tests.metrics.urls_boom.failing_check"]}):
        assert client.get("/readyz").status_code == 503
        assert value("lantern_readiness_up") == 0
        assert value("lantern_readiness_check_up", {"check": "custom:failing_check", "kind": "custom"}) == 0
        # A refused method is not a readiness answer and changes nothing.
        client.post("/readyz")
        assert value("lantern_readiness_up") == 0


@pytest.mark.django_db
def test_readiness_gauges_are_set_by_the_health_view_itself(client: Client) -> None:
    """Health publishes its answer to the recorder: served by the URL view, with no
    middleware in front, /readyz still sets the gauges; /readyz/<check> answers
    for one check, not for the process, and leaves lantern_readiness_up alone."""
    with override_settings(LANTERN={"READINESS_CHECKS": ["tests.metrics.urls_boom.failing_check"]}, MIDDLEWARE=[]):
        assert client.get("/readyz").status_code == 503
        assert value("lantern_readiness_up") == 0
        assert value("lantern_readiness_check_up", {"check": "custom:failing_check", "kind": "custom"}) == 0
    with override_settings(MIDDLEWARE=[]):
        assert client.get("/readyz/db:default").status_code == 200
        assert value("lantern_readiness_up") == 0
        assert client.get("/readyz").status_code == 200
        assert value("lantern_readiness_up") == 1


SLOW_CHECK_UP = {"ok": True}


def slow_check() -> None:
    """A check a readiness probe leaves to the startup probe, as the manifest does with migrations."""
    if not SLOW_CHECK_UP["ok"]:
        raise CheckFailed("down")


@pytest.mark.django_db
def test_a_probe_that_leaves_a_known_check_out_still_publishes_the_process_state(client: Client) -> None:
    """docs/health.md's manifest: once the startup probe ran the left-out check, the readiness
    probe's ``?exclude=`` answers set lantern_readiness_up, down in an outage and up again after."""
    slow = "custom:slow_check"
    lantern = {"READINESS_CHECKS": ["tests.metrics.test_recorder.slow_check"], "READINESS_CACHE_SECONDS": 0}
    SLOW_CHECK_UP["ok"] = True
    with override_settings(LANTERN=lantern):
        recorder.readiness_answered([], ready=False)
        assert client.get(f"/readyz?exclude={slow}").status_code == 200
        assert value("lantern_readiness_up") == 0  # the left-out check never ran here: no verdict yet
        assert client.get(f"/readyz/{slow}").status_code == 200  # the startup probe
        assert client.get(f"/readyz?exclude={slow}").status_code == 200
        assert value("lantern_readiness_up") == 1
        SLOW_CHECK_UP["ok"] = False
        assert client.get(f"/readyz/{slow}").status_code == 503
        assert client.get(f"/readyz?exclude={slow}").status_code == 200
        assert value("lantern_readiness_up") == 0
        SLOW_CHECK_UP["ok"] = True
        assert client.get(f"/readyz/{slow}").status_code == 200
        assert value("lantern_readiness_up") == 1
    SLOW_CHECK_UP["ok"] = True


@pytest.mark.django_db
def test_an_excluding_probe_cannot_hold_readiness_up(client: Client) -> None:
    """During an outage, /readyz?exclude=<the failing check> answers 200 but leaves
    lantern_readiness_up at 0; it still sets the gauges of the checks it ran."""
    failing = {"check": "custom:failing_check", "kind": "custom"}
    with override_settings(LANTERN={"READINESS_CHECKS": ["tests.metrics.urls_boom.failing_check"]}):
        assert client.get("/readyz").status_code == 503
        assert value("lantern_readiness_up") == 0
        for _ in range(3):
            assert client.get("/readyz?exclude=custom:failing_check").status_code == 200
            assert value("lantern_readiness_up") == 0
        assert value("lantern_readiness_check_up", failing) == 0
        assert value("lantern_readiness_check_up", {"check": "db:default", "kind": "db"}) == 1
        assert client.get("/readyz/db:default").status_code == 200
        assert value("lantern_readiness_up") == 0
