"""What lantern adds to one database query, in instructions (callgrind) and microseconds.

``python -m harness.query_cost [--what query|scoped|insights|request|connection] [--n 200,600]``
``[--src DIR] [--no-time] [--configs ...]``

Each configuration (``bare``, ``lantern``) runs ``SELECT 1`` on one SQLite
cursor, outside any context, N times after a
warm-up, for two values of N, each in its own process under
``valgrind --tool=callgrind``; the difference
of the two totals over the difference of N is one query's instructions,
start-up cancelled out. ``lantern`` minus ``bare`` is the per-query
accounting (the execute wrapper and its histogram observation). With
``--what connection`` the loop opens and closes the connection instead
(``connection_created``: the wrapper check and the connection counter).
With ``--what scoped`` the queries run inside a ``bind()`` scope, as a
request's, task's or command's do, so each is also counted in the scope's
cost (``_cost.Cost.query``): ``scoped`` minus ``query`` is that per-query
accounting. ``accounting()`` gives issue 22's three rows (this accounting, the N+1
fingerprinting, the SQL comment), which ``make -C bench instructions`` and ``make bench`` print.
With ``--what insights`` they also run inside a query-insights scope, as a
request's do (lantern only): over ``scoped``, that is the N+1 fingerprinting
(the fingerprint looked up by statement text and counted; the statement
repeats, so past the threshold, as in an N+1).

``--what request --configs bare,lantern,lanterncomments,lanterncallsite`` adds SQL
comments (``LANTERN["SQL_COMMENTS"]``), every per-context key and then ``callsite``
too, the queries running in a view's context (an id, a route, a trace: what the
comment reads; each configuration counts the scope's cost alike, so it cancels out).
The timed figure is the same loop without valgrind, best of 7 rounds:
machine load disturbs it, the instruction count not. The objects left by
start-up and the warm-up are frozen out of the garbage collector's scans
(``gc.freeze``), so a full collection cannot land in one run and not the other.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
CONFIGS = ("bare", "lantern")
# What each configuration adds over the one before it, for the rows after the table.
ADDED_BY = {
    "lantern": ("bare", "lantern's accounting"),
    "lanterncomments": ("lantern", "SQL comment"),
    "lanterncallsite": ("lanterncomments", "SQL comment's callsite"),
}
WARM_UP = 100
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _loop(config: str, what: str) -> Callable[[int], None]:
    """Django set up and warmed; returns the loop of ``n`` queries or connections."""
    from harness.djsetup import setup

    setup(config)
    from django.db import connection

    cursor = connection.cursor()

    def queries(n: int) -> None:
        for _ in range(n):
            cursor.execute("SELECT 1")

    def scoped(n: int) -> None:
        from django_lantern import bind

        with bind(bench="queries"):
            queries(n)

    def connections(n: int) -> None:
        for _ in range(n):
            connection.ensure_connection()
            connection.close()

    loop = {"query": queries, "scoped": scoped, "insights": scoped, "request": queries, "connection": connections}[what]
    if what == "request":
        _enter_request_context()
    if what == "insights":
        from django_lantern.metrics import _insights

        _insights.begin()  # never ended: the loop is the scope's whole life
    loop(WARM_UP)
    # What Django and the warm-up left is moved out of the collector's reach: a
    # full collection landing in one run and not the other would otherwise
    # weigh more than the few thousand instructions measured.
    gc.collect()
    gc.freeze()
    return loop


def _enter_request_context() -> None:
    """A view's context: an id, a resolved route, a trace (what SQL comments read; the rest ignores it)."""
    from django_lantern.context import RequestContext, current

    class Match:
        route = "orgs/<slug:slug>/tasks/"

    class Request:
        resolver_match = Match()

    ctx = RequestContext("0123456789abcdef0123456789abcdef", "GET", "/orgs/acme/tasks/", Request())  # type: ignore[arg-type]
    ctx.trace_id, ctx.span_id, ctx.trace_sampled = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True
    current.set(ctx)


def _child(config: str, what: str, n: int) -> None:
    _loop(config, what)(n)


def best_micros(loop: Callable[[int], None], n: int) -> float:
    """The best microseconds per iteration of 7 rounds of ``loop(n)``."""
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        loop(n)
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def _timed(config: str, what: str, n: int) -> None:
    """Prints the best microseconds per iteration of 7 rounds of ``n``."""
    print(f"{best_micros(_loop(config, what), n):.3f}")


def _env(src: Path | None, scratch: Path) -> dict[str, str]:
    path = [str(src)] if src else []
    return {
        **os.environ,
        "BENCH_TMP": str(scratch),
        "PYTHONPATH": os.pathsep.join([*path, str(BENCH_DIR)]),
        "PYTHONHASHSEED": "0",
    }


def count(config: str, what: str, n: int, src: Path | None, scratch: Path) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    out = scratch / f"callgrind.{config}.{what}.{n}"
    command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    command += ["-m", "harness.query_cost", "--child", config, what, str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(src, scratch), cwd=BENCH_DIR, check=False)
    match = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"{config} n={n} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return int(match.group(1))


def timed(config: str, what: str, n: int, src: Path | None, scratch: Path) -> float:
    command = [sys.executable, "-m", "harness.query_cost", "--timed", config, what, str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(src, scratch), cwd=BENCH_DIR, check=True)
    return float(result.stdout.split()[-1])


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] in ("--child", "--timed"):
        (_child if sys.argv[1] == "--child" else _timed)(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("query", "scoped", "insights", "request", "connection"), default="query")
    parser.add_argument("--n", default="200,600", help="the two loop counts, low,high")
    parser.add_argument("--src", type=Path, default=None, help="count this checkout's src instead")
    parser.add_argument("--no-time", action="store_true", help="instructions only")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="configurations, bare first")
    args = parser.parse_args()
    configs = tuple(args.configs.split(","))
    low, high = (int(n) for n in args.n.split(","))
    what = args.what
    if what == "scoped":
        return _scoped(low, high, args.src, args.no_time)
    with tempfile.TemporaryDirectory(prefix="lantern-query-cost-") as tmp:
        scratch = Path(tmp)
        per = {
            c: (count(c, what, high, args.src, scratch) - count(c, what, low, args.src, scratch)) / (high - low)
            for c in configs
        }
        micros = {} if args.no_time else {c: timed(c, what, 2000, args.src, scratch) for c in configs}
    print(f"| configuration | instructions per {what} | µs per {what} (best of 7) |")
    print("| --- | ---: | ---: |")
    for config in configs:
        print(f"| {config} | {per[config]:,.0f} | {micros.get(config, float('nan')):.2f} |")
    for config in configs:
        if config in ADDED_BY and ADDED_BY[config][0] in configs:
            base, label = ADDED_BY[config]
            extra_us = micros[config] - micros[base] if micros else float("nan")
            print(f"| {label} | {per[config] - per[base]:,.0f} | {extra_us:.2f} |")


# Issue 22's per-query rows: (name, the configuration and loop measured, the one it is over).
PER_QUERY_ROWS = (
    ("accounting", ("lantern", "scoped"), ("lantern", "query")),
    ("fingerprinting", ("lantern", "insights"), ("lantern", "scoped")),
    ("comment", ("lanterncomments", "request"), ("lantern", "request")),
)


def accounting(src: Path | None, n: tuple[int, int] = (200, 600), timed_n: int = 2000) -> dict[str, float]:
    """Issue 22's per-query figures, each the difference of two loops (instructions and µs per
    query): a scope's cost accounting (``_cost.py``), the N+1 fingerprinting (``_insights.py``)
    and the SQL comment with every per-context key (``_sql_comments.py``)."""
    low, high = n
    out: dict[str, float] = {}
    loops = {loop for _, measured, over in PER_QUERY_ROWS for loop in (measured, over)}
    with tempfile.TemporaryDirectory(prefix="lantern-query-cost-") as tmp:
        scratch = Path(tmp)
        for config, what in sorted(loops):
            key = f"{config}.{what}"
            out[f"{key}_instructions"] = (
                count(config, what, high, src, scratch) - count(config, what, low, src, scratch)
            ) / (high - low)
            out[f"{key}_us"] = timed(config, what, timed_n, src, scratch)
    for name, measured, over in PER_QUERY_ROWS:
        for unit in ("instructions", "us"):
            out[f"{name}_{unit}"] = out[f"{'.'.join(measured)}_{unit}"] - out[f"{'.'.join(over)}_{unit}"]
    return out


def accounting_rows(data: dict[str, float]) -> list[str]:
    """Issue 22's per-query rows as the instructions report shows them, each with its target."""
    rows = [
        ("a scope's cost accounting (in a scope over outside any)", "accounting", 0.5),
        ("N+1 fingerprinting (in a request's insights scope over a scope)", "fingerprinting", 1.5),
        ("SQL comment, every per-context key (over no comment)", "comment", 1.0),
    ]
    lines = [
        "",
        "**Per query: issue 22's rows** (`SELECT 1` on SQLite, `harness/query_cost.py`; instructions from "
        "callgrind, µs best of 7 without it, load-sensitive)",
        "",
        "| what one query adds | instructions | µs | issue 22 target | |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for label, name, limit in rows:
        if f"{name}_us" not in data:
            continue  # a file written before the row existed
        us = data[f"{name}_us"]
        verdict = "met" if us <= limit else "**not met**"
        lines.append(f"| {label} | {data[f'{name}_instructions']:,.0f} | {us:.2f} | ≤ {limit} µs | {verdict} |")
    return lines


def _scoped(low: int, high: int, src: Path | None, no_time: bool) -> None:
    """lantern's query outside any scope, then inside one: the difference is the scope's cost accounting."""
    whats = ("query", "scoped")
    with tempfile.TemporaryDirectory(prefix="lantern-query-cost-") as tmp:
        scratch = Path(tmp)
        per = {
            w: (count("lantern", w, high, src, scratch) - count("lantern", w, low, src, scratch)) / (high - low)
            for w in whats
        }
        micros = {} if no_time else {w: timed("lantern", w, 2000, src, scratch) for w in whats}
    print("| lantern, one query | instructions | µs (best of 7) |")
    print("| --- | ---: | ---: |")
    for w, label in zip(whats, ("outside any scope", "in a request's scope"), strict=True):
        print(f"| {label} | {per[w]:,.0f} | {micros.get(w, float('nan')):.2f} |")
    extra_us = micros["scoped"] - micros["query"] if micros else float("nan")
    print(f"| a scope's cost accounting | {per['scoped'] - per['query']:,.0f} | {extra_us:.2f} |")


if __name__ == "__main__":
    main()
