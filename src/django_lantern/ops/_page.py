"""What the page shows, computed from the live registry and what the cache holds.

``build(now, request_id)`` returns plain data for the template. Totals are
this host's registry now plus every other host's newest snapshot; the
per-minute history is the sum over hosts of the growth between consecutive
snapshots; per-route and per-task figures are the growth over the window
(now minus the oldest snapshot of the hour). The cache's reads run under a
deadline: when it fails, the page still shows this host's totals and says the
cache is unavailable.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from django_lantern._release import identity
from django_lantern.metrics._process_start import process_start
from django_lantern.ops import _record, _snapshot, _store
from django_lantern.ops._snapshot import Snapshot, bucket_increase, increase, quantiles

MINUTES = 60
TOP = 10
MAX_SLOW_SHOWN = 20
MAX_FOUND = 50


@dataclass
class Shared:
    """What the cache gave (all empty when it is unavailable)."""

    # host -> minute -> the snapshot without its routes
    snapshots: dict[str, dict[int, Snapshot]] = field(default_factory=dict)
    # host -> (the newest minute's routes, the oldest in-window minute's routes or None)
    routes: dict[str, tuple[Snapshot, Snapshot | None]] = field(default_factory=dict)
    batches: list[dict[str, Any]] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)


def read_shared(now: float) -> Shared:
    backend = _store.cache()
    shared = Shared()
    minute = int(now // 60)
    hosts = _store.read_index(backend, _store.HOSTS)
    if _record.host() not in hosts:
        hosts.append(_record.host())
    keys = {(h, m): _store.snapshot_key(h, m) for h in hosts for m in range(minute - MINUTES, minute + 1)}
    found = _store.get_many(backend, list(keys.values()))
    for (h, m), key in keys.items():
        if isinstance(found.get(key), dict):
            shared.snapshots.setdefault(h, {})[m] = found[key]
    ends = {h: (max(per), _baseline_minute(per, minute)) for h, per in shared.snapshots.items()}
    wanted = [_store.routes_key(h, m) for h, pair in ends.items() for m in pair if m is not None]
    routes = _store.get_many(backend, wanted)
    for h, (newest, oldest) in ends.items():
        got = routes.get(_store.routes_key(h, newest))
        if isinstance(got, dict):
            before = routes.get(_store.routes_key(h, oldest)) if oldest is not None else None
            shared.routes[h] = (got, before if isinstance(before, dict) else None)
    shared.batches = _store.read_batches(backend)
    members = _store.read_index(backend, _store.PROCESSES)
    beats = _store.get_many(backend, [m for m in members if m.startswith(_store.PREFIX)])
    shared.processes = sorted((b for b in beats.values() if isinstance(b, dict)), key=lambda b: (b["host"], b["pid"]))
    return shared


def _history(snapshots: dict[str, dict[int, Snapshot]], minute: int) -> list[dict[str, Any]]:
    rows = []
    for m in range(minute - MINUTES + 1, minute + 1):
        row: dict[str, Any] = {"minute": m, "total": 0.0, "4xx": 0.0, "5xx": 0.0, "buckets": {}, "known": False}
        for per_minute in snapshots.values():
            now, before = per_minute.get(m), per_minute.get(m - 1)
            if now is None or before is None:
                continue
            row["known"] = True
            for klass, value in now["requests"].items():
                grown = increase(value, before["requests"].get(klass))
                row["total"] += grown
                if klass in ("4xx", "5xx"):
                    row[klass] += grown
            for le, count in bucket_increase(now["buckets"], before["buckets"]):
                row["buckets"][le] = row["buckets"].get(le, 0.0) + count
        row.update(quantiles(sorted(row.pop("buckets").items())))
        rows.append(row)
    return rows


def _oldest_minute(per_minute: dict[int, Snapshot], minute: int) -> int | None:
    """The oldest snapshot's minute within the hour, before the newest one (None: there is only one)."""
    window = [m for m in per_minute if minute - MINUTES <= m < max(per_minute)]
    return min(window) if window else None


def _baseline_minute(per_minute: dict[int, Snapshot], minute: int) -> int | None:
    """The minute of the snapshot a host's per-route and per-task figures grow from: its oldest
    within the hour. None (from zero) when there is none, or when the host's counters started
    inside the hour: its oldest snapshot then holds only what they counted in the window, and
    subtracting it would drop a fresh server's first seconds from the page for an hour."""
    found = _oldest_minute(per_minute, minute) if per_minute else None
    if found is None:
        return None
    started = per_minute[found].get("server_start")
    if started is not None and started >= (minute - MINUTES) * 60:
        return None
    return found


def _baseline(per_minute: dict[int, Snapshot], minute: int) -> Snapshot | None:
    found = _baseline_minute(per_minute, minute)
    return None if found is None else per_minute[found]


def _grown_routes(now: Snapshot, before: Snapshot | None, into: dict[str, dict[str, Any]]) -> None:
    """Add each route's growth between two snapshots to ``into``; the histograms are kept as they are
    (``_routes`` reads them only for the few routes it shows)."""
    old_routes = before["routes"] if before else {}
    for name, route in now["routes"].items():
        old = old_routes.get(name) or {}
        target = into.get(name)
        if target is None:
            target = into[name] = {"count": 0.0, "sum": 0.0, "e4": 0.0, "e5": 0.0, "dbq": 0.0, "dbs": 0.0, "pairs": []}
        for key in ("count", "sum", "e4", "e5", "dbq", "dbs"):
            target[key] += increase(route[key], old.get(key))
        target["pairs"].append((route["buckets"], old.get("buckets")))


def _p95(pairs: list[tuple[list[tuple[float, float]], list[tuple[float, float]] | None]]) -> float | None:
    summed: dict[float, float] = {}
    for now, before in pairs:
        for le, count in bucket_increase(now, before):
            summed[le] = summed.get(le, 0.0) + count
    return quantiles(sorted(summed.items()))["p95"]


def _grown_tasks(now: Snapshot, before: Snapshot | None, into: dict[str, dict[str, float]]) -> None:
    old_tasks = before["tasks"] if before else {}
    for name, task in now["tasks"].items():
        old = old_tasks.get(name) or {}
        target = into.setdefault(name, {"runs": 0.0, "failures": 0.0, "wait": 0.0, "waits": 0.0})
        for key in target:
            target[key] += increase(task[key], old.get(key))


def _routes(grown: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    rows = []
    for name, r in grown.items():
        if r["count"] <= 0:
            continue
        rows.append(
            {
                "route": name,
                "count": int(r["count"]),
                "errors": int(r["e4"] + r["e5"]),
                "e5": int(r["e5"]),
                "mean_ms": 1000 * r["sum"] / r["count"],
                "p95_ms": None,
                "queries": r["dbq"] / r["count"] if r["dbq"] else None,
                "db_share": r["dbs"] / r["sum"] if r["dbs"] and r["sum"] else None,
                "pairs": r["pairs"],
            }
        )
    # The percentile only for the routes that may be shown: the slowest by mean, a margin over the top.
    candidates = sorted(rows, key=lambda r: -r["mean_ms"])[: TOP * 3]
    for row in candidates:
        p95 = _p95(row["pairs"])
        row["p95_ms"] = None if p95 is None else 1000 * p95
    for row in rows:
        del row["pairs"]
    slowest = sorted(candidates, key=lambda r: -(r["p95_ms"] or r["mean_ms"]))[:TOP]
    erring = sorted((r for r in rows if r["errors"]), key=lambda r: (-r["errors"], r["route"]))[:TOP]
    db = sorted((r for r in rows if r["queries"] is not None), key=lambda r: -(r["queries"] or 0))[:TOP]
    return {"slowest": slowest, "errors": erring, "db": db}


def _merge_groups(batches: list[dict[str, Any]], name: str, key: tuple[str, ...]) -> list[dict[str, Any]]:
    """One group per ``key`` over every batch: counts added, first and last seen, the newest ids."""
    merged: dict[Any, dict[str, Any]] = {}
    key_of = itemgetter(*key)
    for batch in batches:
        for group in batch.get(name, ()):
            k = key_of(group)
            found = merged.get(k)
            if found is None:
                merged[k] = dict(group)
                continue
            found["count"] += group["count"]
            if group["first"] < found["first"]:
                found["first"] = group["first"]
            if group["last"] >= found["last"]:
                found["last"] = group["last"]
                found["ids"] = (found["ids"] + group["ids"])[-_record.MAX_IDS :]
            for worst in ("n", "db_ms"):
                if group.get(worst, 0) > found.get(worst, 0):
                    found[worst] = group[worst]
    return sorted(merged.values(), key=lambda g: -g["last"])


def _transitions(snapshots: dict[str, dict[int, Snapshot]]) -> list[dict[str, Any]]:
    changes = []
    for host, per_minute in snapshots.items():
        previous: dict[str, float] = {}
        for m in sorted(per_minute):
            for check, state in per_minute[m]["checks"].items():
                up = state.get("up")
                if up is None:
                    continue
                if check in previous and previous[check] != up:
                    changes.append({"minute": m, "host": host, "check": check, "up": bool(up)})
                previous[check] = up
    return sorted(changes, key=lambda c: -c["minute"])[:TOP]


def _sum_totals(snapshots: list[Snapshot]) -> dict[str, Any]:
    requests: dict[str, float] = {}
    tasks: dict[str, dict[str, float]] = {}
    exceptions = 0.0
    for snap in snapshots:
        for klass, value in snap["requests"].items():
            requests[klass] = requests.get(klass, 0.0) + value
        exceptions += snap["exceptions"]
        for name, task in snap["tasks"].items():
            target = tasks.setdefault(name, {"runs": 0.0, "failures": 0.0, "wait": 0.0, "waits": 0.0})
            for key in target:
                target[key] += task[key]
    return {
        "requests": {k: int(v) for k, v in requests.items()},
        "requests_total": int(sum(requests.values())),
        "exceptions": int(exceptions),
        "task_runs": int(sum(t["runs"] for t in tasks.values())),
        "task_failures": int(sum(t["failures"] for t in tasks.values())),
    }


def build(now: float | None = None, request_id: str = "", live: Snapshot | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    minute = int(now // 60)
    this_host = _record.host()
    live = _snapshot.take_totals() if live is None else live
    scope, shared, problem = "none", Shared(), None
    try:
        scope = _store.scope(_store.cache())
        if scope != "none":
            shared = _store.bounded(lambda: read_shared(now))
    except _store.CacheUnavailable as exc:
        problem = str(exc)
    except Exception as exc:  # no such cache alias: the page says which
        problem = f"{type(exc).__name__}: {exc}"[:200]
    snapshots = shared.snapshots
    recent = {h: per for h, per in snapshots.items() if per and max(per) >= minute - 2}
    # This host's totals are live; every other host's come from its newest snapshot.
    others = [per[max(per)] for h, per in recent.items() if h != this_host]
    grown_tasks: dict[str, dict[str, float]] = {}
    for h, per_minute in recent.items():
        newest = live if h == this_host else per_minute[max(per_minute)]
        _grown_tasks(newest, _baseline(per_minute, minute), grown_tasks)
    if this_host not in recent:
        _grown_tasks(live, None, grown_tasks)
    grown_routes: dict[str, dict[str, Any]] = {}
    for h, (newest_routes, oldest_routes) in shared.routes.items():
        if h in recent:
            _grown_routes(newest_routes, oldest_routes, grown_routes)
    if this_host not in shared.routes:  # no snapshot yet (or no cache): this host's full registry, once
        _grown_routes(_snapshot.take(), None, grown_routes)
    batches = shared.batches
    exceptions = _merge_groups(batches, "exceptions", ("type", "route"))
    insights = _merge_groups(batches, "insights", ("insight", "shape", "route"))
    slow = sorted((s for b in batches for s in b.get("slow", ())), key=lambda s: -s["at"])
    found = _search(request_id, exceptions, insights, slow) if request_id else None
    routes_as_of = max((max(per) for per in recent.values()), default=None)
    return {
        "now": now,
        "scope": scope,
        "cache_problem": problem,
        "identity": identity(),
        "this_process": {"host": this_host, "pid": os.getpid(), "start": process_start()},
        "processes": shared.processes,
        "totals": _sum_totals([live, *others]),
        "server_start": live.get("server_start"),
        "history": _history(snapshots, minute),
        "checks": [
            {"name": k, "up": v.get("up"), "ms": 1000 * v.get("seconds", math.nan)} for k, v in live["checks"].items()
        ],
        "transitions": _transitions(snapshots),
        "routes": _routes(grown_routes),
        "routes_as_of": None if routes_as_of is None or this_host not in shared.routes else routes_as_of * 60,
        "window_minutes": _window(snapshots, minute),
        "tasks": _tasks(grown_tasks),
        "exceptions": exceptions[: TOP * 2],
        "n_plus_one": [g for g in insights if g["insight"] == "n_plus_one"][:TOP],
        "slow_queries": [g for g in insights if g["insight"] == "slow_query"][:TOP],
        "slow_requests": slow[:MAX_SLOW_SHOWN],
        "dropped": sum(b.get("dropped", 0) for b in batches),
        "request_id": request_id,
        "found": found,
    }


def _window(snapshots: dict[str, dict[int, Snapshot]], minute: int) -> int | None:
    """Minutes the per-route figures cover; None: since the counters started (no host's figures
    grow from a snapshot, ``_baseline_minute``)."""
    baselines = [m for per in snapshots.values() if (m := _baseline_minute(per, minute)) is not None]
    return minute - min(baselines) if baselines else None


def _tasks(grown: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "task": name,
            "runs": int(t["runs"]),
            "failures": int(t["failures"]),
            "wait_ms": 1000 * t["wait"] / t["waits"] if t["waits"] else None,
        }
        for name, t in grown.items()
        if t["runs"] or t["waits"]
    ]
    return sorted(rows, key=lambda r: (-r["failures"], -r["runs"], r["task"]))[: TOP * 2]


def _search(
    request_id: str, exceptions: list[dict[str, Any]], insights: list[dict[str, Any]], slow: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every recent record that carries ``request_id``."""
    found: list[dict[str, Any]] = []
    for g in exceptions:
        if request_id in g["ids"]:
            found.append({"kind": "exception", "what": g["type"], "route": g["route"], "at": g["last"]})
    for g in insights:
        if request_id in g["ids"]:
            what = f"{g['shape']} ({g['callsite']})" if g["callsite"] else g["shape"]
            kind = "N+1 query" if g["insight"] == "n_plus_one" else "slow query"
            found.append({"kind": kind, "what": what, "route": g["route"], "at": g["last"]})
    for s in slow:
        if s["id"] == request_id:
            found.append(
                {
                    "kind": "slow request",
                    "what": f"{s['method']} {s['status']} in {s['ms']} ms",
                    "route": s["route"],
                    "at": s["at"],
                }
            )
    return found[:MAX_FOUND]
