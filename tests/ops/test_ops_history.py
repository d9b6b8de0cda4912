"""The page's arithmetic: totals over hosts, per-minute history from snapshots, routes over the window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_lantern.ops import _page, _record, _snapshot, _store

NOW = 1_800_000_000.0
MINUTE = int(NOW // 60)
PREFIX = ""


def _snap(requests: float, errors: float, slow: float, route_count: float) -> _snapshot.Snapshot:
    """A host's registry with ``requests`` 200s and ``errors`` 500s on one route, ``slow`` of them over 1 s."""
    fast = requests + errors - slow
    samples = [
        ("http_server_requests_total", {"method": "GET", "route": "/a/", "status_code": "200"}, requests),
        ("http_server_requests_total", {"method": "GET", "route": "/a/", "status_code": "500"}, errors),
        ("http_server_requests_total", {"method": "GET", "route": "/b/", "status_code": "200"}, route_count),
        ("http_server_request_duration_seconds_bucket", {"route": "/a/", "le": "0.1"}, fast),
        ("http_server_request_duration_seconds_bucket", {"route": "/a/", "le": "1.0"}, fast),
        ("http_server_request_duration_seconds_bucket", {"route": "/a/", "le": "+Inf"}, requests + errors),
        ("http_server_request_duration_seconds_sum", {"route": "/a/"}, fast * 0.05 + slow * 2),
        ("lantern_tasks_total", {"task": "export", "outcome": "failure"}, errors),
        ("lantern_readiness_check_up", {"check": "default", "kind": "database"}, 1.0),
    ]
    return _snapshot.from_samples(samples, PREFIX)


@pytest.fixture
def stored() -> Iterator[None]:
    backend = _store.cache()
    backend.clear()
    host = _record.host()
    for m, total in ((MINUTE - 3, 10.0), (MINUTE - 2, 40.0), (MINUTE - 1, 100.0), (MINUTE, 160.0)):
        for name, factor in ((host, 1.0), ("pod-2", 2.0)):
            small, routes = _snapshot.split(_snap(total * factor, m - MINUTE + 9, m - MINUTE + 3, total))
            _store.put(backend, _store.snapshot_key(name, m), small)
            _store.put(backend, _store.routes_key(name, m), routes)
    _store.remember(backend, _store.HOSTS, "pod-2")
    yield
    backend.clear()


def test_totals_add_this_host_live_and_other_hosts_newest_snapshot(stored: None) -> None:
    model = _page.build(now=NOW, live=_snapshot.split(_snap(170.0, 9.0, 3.0, 160.0))[0])
    # live: 170 + 9 + 160; pod-2's newest: 320 + 9 + 160
    assert model["totals"]["requests_total"] == 339 + 489
    assert model["totals"]["requests"]["5xx"] == 18
    assert model["totals"]["task_failures"] == 18


def test_history_is_the_per_minute_growth_summed_over_hosts(stored: None) -> None:
    model = _page.build(now=NOW, live=_snapshot.split(_snap(170.0, 9.0, 3.0, 160.0))[0])
    rows = {row["minute"]: row for row in model["history"]}
    assert not rows[MINUTE - 3]["known"]  # nothing before it to subtract
    # minute -2: each host grew 30*factor (route /a/) + 1 (500s) + 30 (route /b/)
    assert rows[MINUTE - 2]["total"] == (30 + 1 + 30) + (60 + 1 + 30)
    assert rows[MINUTE - 2]["5xx"] == 2
    assert rows[MINUTE]["p99"] is not None and rows[MINUTE]["p50"] <= 0.1


def test_routes_cover_the_window_and_a_restart_counts_from_zero(stored: None) -> None:
    model = _page.build(now=NOW, live=_snapshot.split(_snap(170.0, 9.0, 3.0, 160.0))[0])
    assert model["window_minutes"] == 3
    by_route = {r["route"]: r for r in model["routes"]["slowest"]}
    # /b/ grew 160 - 10 on each host
    assert by_route["/b/"]["count"] == 300
    assert _snapshot.increase(5.0, 50.0) == 5.0  # a restarted worker's counter
    errors = {r["route"]: r for r in model["routes"]["errors"]}
    assert errors["/a/"]["e5"] == 6


def test_a_readiness_change_between_minutes_is_a_transition(stored: None) -> None:
    backend = _store.cache()
    small, _ = _snapshot.split(_snap(200.0, 9.0, 3.0, 170.0))
    small["checks"]["database:default"]["up"] = 0.0
    _store.put(backend, _store.snapshot_key("pod-2", MINUTE + 1), small)
    model = _page.build(now=NOW + 60, live=small)
    assert [(t["host"], t["check"], t["up"]) for t in model["transitions"]] == [("pod-2", "database:default", False)]


def _started(snapshot: _snapshot.Snapshot, at: float) -> _snapshot.Snapshot:
    return {**snapshot, "server_start": at}


@pytest.mark.parametrize(
    ("started_minutes_ago", "count", "failures", "window"),
    [
        # Started two minutes ago: its first snapshot already held 40 requests of /b/ and 4
        # failed tasks, from the seconds before it; they are in the window, so the page counts
        # from zero.
        (2, 100, 10, None),
        # Started before the hour: the oldest snapshot in the hour is the baseline, as ever.
        (90, 60, 6, 2),
    ],
)
def test_a_server_started_inside_the_window_counts_from_zero(
    started_minutes_ago: int, count: int, failures: int, window: int | None
) -> None:
    backend = _store.cache()
    backend.clear()
    host = _record.host()
    started = NOW - started_minutes_ago * 60
    try:
        for m, total in ((MINUTE - 2, 40.0), (MINUTE - 1, 70.0), (MINUTE, 100.0)):
            small, routes = _snapshot.split(_started(_snap(total, total / 10, 0.0, total), started))
            _store.put(backend, _store.snapshot_key(host, m), small)
            _store.put(backend, _store.routes_key(host, m), routes)
        live = _snapshot.split(_started(_snap(100.0, 10.0, 0.0, 100.0), started))[0]
        model = _page.build(now=NOW + 30, live=live)
    finally:
        backend.clear()
    by_route = {r["route"]: r for r in model["routes"]["slowest"]}
    assert by_route["/b/"]["count"] == count
    assert {t["task"]: t["failures"] for t in model["tasks"]} == {"export": failures}
    assert model["window_minutes"] == window
